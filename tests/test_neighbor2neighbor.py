"""Neighbor2Neighbor: the sub-sampling it uses, the loss by hand, the gamma ramp, crop batches, a tiny run, the CLI."""

import json
import math

import pytest
import torch

from noiseaug.cli import main
from noiseaug.data.batches import CropBatch, CropBatches
from noiseaug.data.neighbour import neighbour_subsample
from noiseaug.imageio import write_png
from noiseaug.objectives.neighbor2neighbor import Neighbor2Neighbor, gamma_ramp, neighbor2neighbor_loss
from noiseaug.objectives.noise2clean import Noise2Clean
from noiseaug.recipes import Neighbor2NeighborConfig, run_recipe
from noiseaug.recipes.common import build_denoiser
from noiseaug.recipes.neighbor2neighbor import noise_transform


def _positions(seed, shape):
    """The flat pixel indices ``(g1, g2)`` the sub-sampler picks for a batch of ``shape`` with this seed."""
    b, _, h, w = shape
    index = torch.arange(h * w, dtype=torch.float64).view(1, 1, h, w).expand(b, 1, h, w)
    first, second = neighbour_subsample(index, torch.Generator().manual_seed(seed))
    return first.long(), second.long()


def test_subsampler_picks_two_different_adjacent_positions_per_cell_reproducibly():
    h, w = 6, 8
    first, second = _positions(3, (4, 3, h, w))
    assert first.shape == second.shape == (4, 1, h // 2, w // 2)
    r1, c1, r2, c2 = first // w, first % w, second // w, second % w
    rows, cols = torch.meshgrid(torch.arange(h // 2), torch.arange(w // 2), indexing="ij")
    for r, c in ((r1, c1), (r2, c2)):  # both inside their own 2x2 cell
        assert torch.equal(r // 2, rows.expand_as(r)) and torch.equal(c // 2, cols.expand_as(c))
    assert torch.equal((r1 - r2).abs() + (c1 - c2).abs(), torch.ones_like(r1))  # different and adjacent, never diagonal
    again = _positions(3, (4, 3, h, w))
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])
    assert not torch.equal(first, _positions(4, (4, 3, h, w))[0])
    # every position and both directions occur (the choice is random, not a fixed pattern)
    many = _positions(0, (64, 1, 2, 2))
    assert set((many[0] * 4 + many[1]).flatten().tolist()) == {1, 2, 4, 7, 8, 11, 13, 14}


def test_crop_batches_draw_a_fresh_subsampler_seed_every_step():
    images = [torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))]
    source = CropBatches(clean=images, noise=noise_transform("gauss25"), patch=8, batch_size=2, seed=1)
    seeds = [source.batch(k).seed for k in range(4)]
    assert len(set(seeds)) == 4 and seeds == [source.batch(k).seed for k in range(4)]


def test_loss_equals_a_hand_computation():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)  # not pixel-wise: g1 f(y) differs from f(g1 y)
    y = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    objective = Neighbor2Neighbor(conv, gamma=3.0, total_steps=11)
    batch = CropBatch(noisy=y, clean=None, step=4, seed=123)
    loss = objective(batch)
    i1, i2 = _positions(123, y.shape)
    flat_y, flat_fy = y.flatten(2), conv(y).detach().flatten(2)
    pick = lambda flat, idx: torch.gather(flat, 2, idx.flatten(2)).view(2, 1, 2, 2)  # noqa: E731
    diff = conv(pick(flat_y, i1)) - pick(flat_y, i2)
    regulariser = diff - (pick(flat_fy, i1) - pick(flat_fy, i2))
    gamma_t = 3.0 * 4 / 10
    expected = diff.square().sum() / 8 + gamma_t * regulariser.square().sum() / 8
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()  # gradients reach the network through f(g1 y) only
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_loss_function_on_a_tiny_tensor():
    a = torch.tensor([[[[0.5, 0.2], [0.1, 0.9]]]])
    b = torch.tensor([[[[0.4, 0.4], [0.1, 0.7]]]])
    c = torch.tensor([[[[0.3, 0.1], [0.0, 0.0]]]])
    d = torch.tensor([[[[0.2, 0.1], [0.1, 0.0]]]])
    # diff = [.1, -.2, 0, .2]; c - d = [.1, 0, -.1, 0]; diff - (c - d) = [0, -.2, .1, .2]
    expected = (0.01 + 0.04 + 0 + 0.04) / 4 + 2.0 * (0 + 0.04 + 0.01 + 0.04) / 4
    assert neighbor2neighbor_loss(a, b, c, d, 2.0).item() == pytest.approx(expected)


def test_gamma_ramps_linearly_from_zero_to_its_final_value():
    assert gamma_ramp(0, 101, 2.0) == 0.0
    assert gamma_ramp(50, 101, 2.0) == pytest.approx(1.0)
    assert gamma_ramp(100, 101, 2.0) == 2.0 and gamma_ramp(500, 101, 2.0) == 2.0
    values = [gamma_ramp(s, 101, 2.0) for s in range(101)]
    assert all(b - a == pytest.approx(0.02) for a, b in zip(values[:-1], values[1:], strict=True))
    assert Neighbor2Neighbor(torch.nn.Identity(), 1.0, 1).gamma_at(0) == 0.0
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="gamma"):
            Neighbor2Neighbor(torch.nn.Identity(), gamma=bad)
    with pytest.raises(TypeError, match="gamma"):
        Neighbor2Neighbor(torch.nn.Identity(), gamma="2")
    with pytest.raises(ValueError, match="total_steps"):
        Neighbor2Neighbor(torch.nn.Identity(), total_steps=0)


def test_noise2clean_is_the_mse_to_clean_and_needs_clean():
    noisy, clean = torch.full((1, 3, 4, 4), 0.6), torch.full((1, 3, 4, 4), 0.5)
    assert Noise2Clean(torch.nn.Identity())(CropBatch(noisy, clean, 0, 0)).item() == pytest.approx(0.01)
    with pytest.raises(ValueError, match="clean"):
        Noise2Clean(torch.nn.Identity())(CropBatch(noisy, None, 0, 0))


def test_noise_names_and_crop_batch_modes():
    assert noise_transform("gauss25").ranges["sigma"].low == pytest.approx(25 / 255)
    assert not noise_transform("gauss25").clip
    poisson = noise_transform("poisson30")
    assert poisson.ranges["gain"].low == pytest.approx(1 / 30) and poisson.ranges["read_sigma"].high == 0
    for bad in ("gauss", "salt5", "gauss50-5", 25):
        with pytest.raises(ValueError, match="noise"):
            noise_transform(bad)
    g = torch.Generator().manual_seed(0)
    noisy = [torch.randint(0, 256, (3, 12, 12), dtype=torch.uint8, generator=g) for _ in range(2)]
    clean = [torch.randint(0, 256, (3, 12, 12), dtype=torch.uint8, generator=g) for _ in range(2)]
    real = CropBatches(noisy=noisy, clean=clean, patch=4, batch_size=3, seed=0).batch(0)
    assert real.noisy.dtype == torch.float32 and real.clean.shape == (3, 3, 4, 4)
    only = CropBatches(noisy=noisy, patch=4, batch_size=3, seed=0).batch(0)
    assert only.clean is None and torch.equal(only.noisy, real.noisy)
    prior = CropBatches(clean=clean, patch=4, batch_size=3, seed=0).batch(0)
    assert prior.noisy is None and prior.clean.max() <= 1
    with pytest.raises(ValueError, match="patch"):
        CropBatches(clean=clean, patch=5, batch_size=1)
    with pytest.raises(ValueError, match="patch=16"):
        CropBatches(clean=clean, patch=16, batch_size=1)
    with pytest.raises(ValueError, match="one to one"):
        CropBatches(noisy=noisy, clean=clean[:1], patch=4, batch_size=1)
    with pytest.raises(ValueError, match="denoiser"):
        build_denoiser("bm3d")


def _smooth_images(folder, count=5, size=48):
    """Clean colour ramps (an easy denoising task) written as PNGs."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    for i in range(count):
        a = torch.rand(3, 2, generator=torch.Generator().manual_seed(i)) + 0.1
        ramp = (a[:, :1, None] * x + a[:, 1:, None] * y) / a.sum(1)[:, None, None]
        write_png(folder / f"ramp{i}.png", 0.2 + 0.6 * ramp)
    return folder


@pytest.mark.slow
def test_tiny_training_run_beats_the_noisy_input(tmp_path):
    images = _smooth_images(tmp_path / "images")
    config = Neighbor2NeighborConfig(
        images=str(images), width=16, depth=2, steps=150, batch=8, patch=32, lr=3e-3, val_crops=16, val_every=75
    )
    run_recipe(config, tmp_path / "run", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [75, 150]
    best = max(h["val_psnr"] for h in history)
    assert best > history[0]["val_psnr_noisy"] + 6  # about 20 dB in, about 33 dB out
    loaded = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state"]
    assert loaded["best"] == pytest.approx(-best)
    assert (tmp_path / "run" / "denoiser" / "model.safetensors").is_file()


def _fake_real_root(root):
    """A data root with tiny PolyU and CC15 pairs: seven scenes, the PolyU ones of one camera configuration (so
    a scene can be held out for validation)."""
    g = torch.Generator().manual_seed(0)
    names = {
        "polyu": [f"Canon5D2_5_160_3200_{scene}_11" for scene in ("chair", "desk", "door", "lamp", "tree")],
        "nam-cc15": ["d600_iso3200_1", "nikon_iso1600_2"],
    }
    for folder, stems in names.items():
        for stem in stems:
            clean = torch.rand(3, 24, 24, generator=g)
            write_png(root / "real-srgb" / folder / f"{stem}_mean.png", clean)
            write_png(
                root / "real-srgb" / folder / f"{stem}_real.png",
                (clean + 0.05 * torch.randn(clean.shape, generator=g)).clamp(0, 1),
            )
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--objective", "noise2clean", "--denoiser", "dncnn", "--depth", "3"],
        ["--real"],
        ["--real", "--objective", "noise2clean"],
    ],
)
def test_cli_runs_two_steps(tmp_path, extra):
    images = _smooth_images(tmp_path / "images", size=24)
    data = _fake_real_root(tmp_path / "data")
    out = tmp_path / "run"
    args = [
        "train",
        "neighbor2neighbor",
        "--out",
        str(out),
        "--images",
        str(images),
        "--data",
        str(data),
        "--steps",
        "2",
        "--batch",
        "2",
        "--patch",
        "16",
        "--width",
        "8",
        "--val-crops",
        "2",
        "--val-every",
        "1",
        "--noise",
        "gauss5-50",
        *extra,
    ]
    if "--depth" not in extra:
        args += ["--depth", "2"]
    assert main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2] and all(h["val_psnr"] > 0 for h in history)
    assert (out / "denoiser" / "config.json").is_file()
    assert main(args) == 0  # resumes at the end: nothing left to train
