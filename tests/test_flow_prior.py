"""Flow-prior denoiser: the loss, gradients through a frozen prior, tiling, the two recipes through the CLI."""

import json
import math

import pytest
import torch
from flow_helpers import trained_looking

from noiseaug import DnCNN, Glow
from noiseaug.cli import main
from noiseaug.data.batches import CropBatch
from noiseaug.imageio import write_png
from noiseaug.objectives.flow_prior import FlowPriorDenoising, GlowNLL, mean_filter, tiled_log_prob_per_dim


def _prior(seed=0):
    return trained_looking(Glow, seed=seed, levels=2, depth=1, hidden=8, image_size=8)


def _denoiser():
    torch.manual_seed(0)
    net = DnCNN(depth=3, width=8)
    torch.nn.init.normal_(net.body[-1].weight, std=0.1)  # trained-looking: a fresh DnCNN's last layer is zero
    return net


def _noisy():
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_loss_is_fidelity_through_the_mean_filter_minus_lambda_log_prior():
    denoiser, prior = _denoiser(), _prior()
    noisy = _noisy()
    loss = FlowPriorDenoising(denoiser, prior, lam=0.01)(CropBatch(noisy, None, 0, 0))
    x = denoiser(noisy)
    pad = torch.nn.functional.pad

    def blur(t):
        return (
            sum(pad(t, (1, 1, 1, 1), mode="reflect")[..., i : i + 16, j : j + 16] for i in range(3) for j in range(3))
            / 9
        )

    tiles = [x[:, :, r : r + 8, c : c + 8] for r in (0, 8) for c in (0, 8)]
    log_p = sum(prior.log_prob(t) for t in tiles) / (3 * 16 * 16)
    expected = (blur(noisy) - blur(x)).square().mean() - 0.01 * log_p.mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(tiled_log_prob_per_dim(prior, x), log_p)


def test_gradient_reaches_the_denoiser_through_the_prior_but_not_the_prior():
    denoiser, prior = _denoiser(), _prior()
    before = {k: v.clone() for k, v in prior.state_dict().items()}
    objective = FlowPriorDenoising(denoiser, prior, lam=0.5).train()
    assert not prior.training and not any(p.requires_grad for p in prior.parameters())
    objective(CropBatch(_noisy(), None, 0, 0)).backward()
    assert all(p.grad is None for p in prior.parameters())
    with_prior = [p.grad.clone() for p in denoiser.parameters()]
    assert all(g.abs().sum() > 0 for g in with_prior)
    denoiser.zero_grad()
    FlowPriorDenoising(denoiser, prior, lam=0.0)(CropBatch(_noisy(), None, 0, 0)).backward()
    assert any(
        not torch.allclose(a, p.grad) for a, p in zip(with_prior, denoiser.parameters(), strict=True)
    )  # the prior term counts
    x = _noisy().requires_grad_(True)
    tiled_log_prob_per_dim(prior, x).sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(torch.equal(v, prior.state_dict()[k]) for k, v in before.items())


def test_mean_filter_and_argument_checks():
    constant = torch.full((1, 3, 5, 5), 0.3)
    torch.testing.assert_close(mean_filter(constant), constant)
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 9.0
    assert mean_filter(x)[0, 0, 1:4, 1:4].eq(1.0).all() and mean_filter(x).sum() == 9.0
    with pytest.raises(ValueError, match="lam"):
        FlowPriorDenoising(_denoiser(), _prior(), lam=-1.0)
    with pytest.raises(TypeError, match="prior"):
        FlowPriorDenoising(_denoiser(), DnCNN(depth=2, width=4))


def test_glow_nll_is_the_bits_per_dim_with_the_batch_dequantisation():
    prior = _prior()
    clean = torch.randint(0, 256, (2, 3, 8, 8), generator=torch.Generator().manual_seed(0)) / 255.0
    batch = CropBatch(None, clean, 0, 42)
    expected = prior.bits_per_dim(clean, torch.Generator().manual_seed(42)).mean()
    assert GlowNLL(prior)(batch).item() == pytest.approx(expected.item())
    assert 0 < expected.item() < 16


@pytest.mark.slow
def test_cli_trains_the_prior_then_the_denoiser(tmp_path):
    images = tmp_path / "images"
    for i in range(5):
        write_png(images / f"img{i}.png", torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(i)))
    out = tmp_path / "run"
    common = ["train", "flow-prior", "--out", str(out), "--images", str(images), "--val-every", "1", "--seed", "1"]
    prior_args = [
        "--prior-steps",
        "2",
        "--prior-batch",
        "4",
        "--prior-patch",
        "8",
        "--prior-val-crops",
        "4",
        "--levels",
        "2",
        "--flow-depth",
        "1",
        "--hidden",
        "8",
    ]
    denoiser_args = [
        "--steps",
        "2",
        "--batch",
        "2",
        "--patch",
        "16",
        "--width",
        "8",
        "--depth",
        "2",
        "--val-crops",
        "3",
    ]
    assert main([*common, *prior_args, *denoiser_args]) == 0
    prior_history = json.loads((out / "prior" / "history.json").read_text())
    assert [h["step"] for h in prior_history] == [1, 2] and all(math.isfinite(h["val_bpd"]) for h in prior_history)
    history = json.loads((out / "denoise" / "history.json").read_text())
    assert {"val_psnr", "val_psnr_s15", "val_psnr_s25", "val_psnr_s50", "val_prior_nll"} <= set(history[-1])
    assert Glow.from_pretrained(out / "prior" / "model").image_size == 8
    assert (out / "denoise" / "denoiser" / "model.safetensors").is_file()
    # the denoiser stage alone, from a given prior, into a fresh folder
    other = tmp_path / "other"
    assert (
        main(
            [
                "train",
                "flow-prior",
                "--stage",
                "denoiser",
                "--out",
                str(other),
                "--images",
                str(images),
                "--prior",
                str(out / "prior" / "model"),
                "--lam",
                "0.01",
                "--val-every",
                "2",
                *denoiser_args,
            ]
        )
        == 0
    )
    assert not (other / "prior").exists() and (other / "denoise" / "denoiser" / "config.json").is_file()
