"""noiseaug.eval: test sets on tiny folders, fitted baselines, noise statistics, tables, release cards, timing."""

import json
import math
from typing import get_args

import pytest
import torch

from noiseaug import NAFlow
from noiseaug.data.camera import SimulatedCamera
from noiseaug.data.real_srgb import real_srgb_split
from noiseaug.denoisers import DnCNN
from noiseaug.errors import NoiseaugFileNotFoundError
from noiseaug.eval import (
    AWGN_FIT,
    HELD_OUT,
    NLF_FIT,
    PG_FIT,
    SIDD_DEV,
    cell,
    clean_raw_crops,
    combo_index,
    crop_pair,
    divergences,
    fit_per_combo,
    fit_per_image,
    fitted_parameters,
    gaussian_nll_excess,
    kodak_awgn_sets,
    lag1_correlation,
    limit_sets,
    markdown_table,
    nlf_per_group,
    noise_correlation,
    per_combo_model,
    real_srgb_test_sets,
    seeded_generator,
    simcam_draws,
    spread,
    std_ratio,
    summarise_rows,
    write_outputs,
)
from noiseaug.eval.compare import MODELS, NAFLOW_NAS, likelihoods, synthesize
from noiseaug.eval.release import (
    denoiser_card,
    noiseflow_card,
    release_folder,
    release_labels,
    simcam_flow,
)
from noiseaug.eval.simcam import simcam_markdown, simcam_results
from noiseaug.eval.timing import make_step, timed
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.hub import save_pretrained
from noiseaug.imageio import read_image, write_png
from noiseaug.noise import GaussianNoise, HeteroscedasticGaussianNoise


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ramp(size: int = 96) -> torch.Tensor:
    """A clean (1, 3, size, size) image spanning [0.05, 0.95] (every signal level the NLF fit needs)."""
    row = torch.linspace(0.05, 0.95, size)
    return row.expand(3, size, size)[None].clone()


def _write_pairs(folder, stems, noisy_suffix, clean_suffix, seed, size=24):
    for k, stem in enumerate(stems):
        clean = torch.rand(3, size, size + 8, generator=_gen(seed + k))
        write_png(folder / f"{stem}{clean_suffix}.png", clean)
        write_png(
            folder / f"{stem}{noisy_suffix}.png",
            (clean + 0.1 * torch.randn(clean.shape, generator=_gen(99 + k))).clamp(0, 1),
        )


@pytest.fixture
def data_root(tmp_path):
    """A data root laid out like the shared data: PolyU and CC15 crops, sidd-dev pairs, Kodak-like clean images."""
    root = tmp_path / "data"
    polyu = [f"Canon5D2_5_160_3200_{scene}_{k}" for scene in ("chair", "desk", "door", "lamp", "tree") for k in (1, 2)]
    _write_pairs(root / "real-srgb" / "polyu", polyu, "_real", "_mean", 0)
    _write_pairs(root / "real-srgb" / "nam-cc15", [f"d800_iso3200_{k}" for k in (1, 2, 3, 4, 5)], "_real", "_mean", 20)
    _write_pairs(root / "real-srgb" / "sidd-dev", ["naflow-0032-0023", "danet-block"], "_noisy", "_clean", 40)
    for k in range(3):
        write_png(root / "clean" / "kodak24" / f"kodim{k + 1:02d}.png", torch.rand(3, 16, 20, generator=_gen(60 + k)))
    return root


def test_real_srgb_test_sets_read_the_held_out_split_and_sidd_dev(data_root):
    sets = real_srgb_test_sets(data_root)
    assert list(sets) == [HELD_OUT, SIDD_DEV]
    _, held_out = real_srgb_split(data_root)
    assert [name for name, _, _ in sets[HELD_OUT]] == [p.name for p in held_out] and held_out
    assert [name for name, _, _ in sets[SIDD_DEV]] == ["danet-block", "naflow-0032-0023"]  # sorted by name
    for pairs in sets.values():
        assert all(noisy.shape == clean.shape == (1, 3, 24, 32) for _, noisy, clean in pairs)
    name, noisy, clean = sets[SIDD_DEV][0]
    assert torch.equal(clean[0], read_image(data_root / "real-srgb" / "sidd-dev" / "danet-block_clean.png"))
    assert torch.equal(noisy[0], read_image(data_root / "real-srgb" / "sidd-dev" / "danet-block_noisy.png"))
    limited = limit_sets(sets, 1)
    assert [len(p) for p in limited.values()] == [1, 1] and limit_sets(sets, None) == sets


def test_kodak_awgn_sets_draw_fixed_unclipped_noise_of_the_given_std(data_root):
    sets = kodak_awgn_sets([25.0, 50.0], data_root, limit=2)
    assert list(sets) == ["Kodak24 AWGN sigma=25", "Kodak24 AWGN sigma=50"]
    again = kodak_awgn_sets([25.0], data_root, limit=2)["Kodak24 AWGN sigma=25"]
    for (name, noisy, _), (_, noisy2, _) in zip(sets["Kodak24 AWGN sigma=25"], again, strict=True):
        assert name.startswith("kodim") and torch.equal(noisy, noisy2)  # one fixed draw per image and sigma
    noise = torch.cat([(n - c).flatten() for _, n, c in sets["Kodak24 AWGN sigma=50"]])
    assert noise.std() * 255 == pytest.approx(50, rel=0.1)
    assert bool((torch.cat([n.flatten() for _, n, _ in sets["Kodak24 AWGN sigma=50"]]) < 0).any())  # not clipped


def test_kodak_awgn_sets_without_sigmas_read_nothing(tmp_path):
    assert kodak_awgn_sets([], tmp_path / "no-data-here") == {}  # the real sets alone need no clean/kodak24


def test_crop_pair_and_seeded_generator():
    noisy, clean = crop_pair(torch.rand(1, 3, 21, 35), torch.rand(1, 3, 21, 35), 8)
    assert noisy.shape == clean.shape == (1, 3, 16, 32)
    a = torch.rand(4, generator=seeded_generator(0, 1, 2))
    assert torch.equal(a, torch.rand(4, generator=seeded_generator(0, 1, 2)))
    assert not torch.equal(a, torch.rand(4, generator=seeded_generator(0, 2, 1)))


def test_fit_per_image_recovers_the_parameters_of_synthetic_noise():
    clean = _ramp()
    awgn = GaussianNoise(0.05).sample(clean, generator=_gen(0))
    fitted = fit_per_image(awgn, clean)
    assert list(fitted) == [AWGN_FIT, NLF_FIT]
    assert float(fitted[AWGN_FIT].sigma) == pytest.approx(0.05, rel=0.02)
    nlf = HeteroscedasticGaussianNoise(0.02, 1e-4).sample(clean, generator=_gen(1))
    fitted = fit_per_image(nlf, clean, poisson_gaussian=True)
    params = fitted_parameters(fitted)
    assert list(params) == [AWGN_FIT, NLF_FIT, PG_FIT]
    assert params[NLF_FIT]["beta1"] == pytest.approx(0.02, rel=0.05)
    assert params[NLF_FIT]["beta2"] == pytest.approx(1e-4, rel=0.5)
    # Poisson-Gaussian variance is gain * x + read_sigma^2: the same line
    assert params[PG_FIT]["gain"] == pytest.approx(0.02, rel=0.05)
    assert params[PG_FIT]["read_sigma"] ** 2 == pytest.approx(1e-4, rel=0.5)


def test_fit_per_combo_recovers_each_cameras_nlf_on_the_pixel_independent_simulator(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"img{i}.png", torch.rand(3, 80, 80, generator=_gen(i)).mul(0.8).add(0.1))
    camera = SimulatedCamera.pixel_independent()
    draws = simcam_draws(tmp_path, camera, test_batches=1, train_batches=8)
    assert len(draws.test) == 1 and len(draws.train) == 8 and draws.held_out_images >= 1
    fitted = fit_per_combo(draws.train, camera, HeteroscedasticGaussianNoise.fit)
    assert len(fitted) == 25 and list(fitted) == sorted(fitted)  # balanced draws: every camera x ISO
    names = [c for c in camera.cameras for _ in camera.isos]
    true1, true2 = camera.nlf(camera.condition(names, [i for _ in camera.cameras for i in camera.isos]))
    estimated = torch.stack([fitted[k].beta1 for k in range(25)]).flatten().double()
    assert torch.allclose(estimated, true1.double(), rtol=0.1)  # about 10 packed 32x32 patches per combination
    model = per_combo_model(fitted, camera, HeteroscedasticGaussianNoise)(draws.test[0])
    combos = combo_index(draws.test[0], camera)
    assert torch.equal(model.beta1.flatten(), torch.stack([fitted[int(c)].beta1 for c in combos]).flatten())


def test_nlf_per_group_fits_each_group_and_compares_with_a_reference():
    clean = _ramp(64).repeat(2, 1, 1, 1)
    noise = torch.cat(
        [
            HeteroscedasticGaussianNoise(b, 1e-4).sample(clean[:1], generator=_gen(k)) - clean[:1]
            for k, b in enumerate((0.01, 0.04))
        ]
    )
    rows = nlf_per_group(noise, clean, torch.tensor([0, 1]), 2, lambda k: (0.01, 1e-4) if k == 0 else None)
    assert rows[0]["beta1"] == pytest.approx(0.01, rel=0.1) and rows[1]["beta1"] == pytest.approx(0.04, rel=0.1)
    assert rows[0]["var_ratio"] == pytest.approx(1.0, rel=0.05) and rows[1]["var_ratio"] is None
    assert rows[1]["std"] > rows[0]["std"] > 0


def test_noise_correlation_is_zero_off_centre_for_white_noise_and_not_for_correlated_noise():
    white = torch.randn(2, 3, 96, 96, generator=_gen(0))
    corr = noise_correlation(white)
    assert corr.shape == (9, 9) and float(corr[4, 4]) == pytest.approx(1.0)
    off_centre = corr.clone()
    off_centre[4, 4] = 0
    assert off_centre.abs().max() < 0.03
    # the sum of horizontal neighbours: correlation 0.5 at (0, +-1), zero at lag 2 and vertically
    correlated = white + white.roll(1, dims=-1)
    corr = noise_correlation(correlated, radius=2)
    assert float(corr[2, 3]) == pytest.approx(0.5, abs=0.03) and float(corr[2, 1]) == pytest.approx(0.5, abs=0.03)
    assert abs(float(corr[2, 4])) < 0.03 and abs(float(corr[3, 2])) < 0.03
    assert lag1_correlation(correlated) == pytest.approx(float(corr[2, 3]), abs=0.01)
    stats = spread(white / 255)
    assert list(stats) == ["corr_h1", "std_255"] and stats["std_255"] == pytest.approx(1.0, rel=0.02)


def test_divergences_and_std_ratio_separate_matching_from_mismatched_noise():
    real = 0.05 * torch.randn(1, 3, 64, 64, generator=_gen(0))
    same = 0.05 * torch.randn(1, 3, 64, 64, generator=_gen(1))
    loud = 3 * same
    assert std_ratio(same, real) == pytest.approx(1.0, rel=0.05) and std_ratio(loud, real) == pytest.approx(
        3.0, rel=0.05
    )
    close, far = divergences(real, same), divergences(real, loud)
    assert list(close) == ["kld", "akld"] and 0 <= close["kld"] < far["kld"] and 0 <= close["akld"] < far["akld"]
    assert gaussian_nll_excess(1.0) == pytest.approx(0.5 * math.log(2) - 0.25)


def test_summarise_rows_means_non_missing_values_and_counts_non_finite_rows():
    rows = [
        {"set": "a", "model": "m", "kld": 1.0, "nll": None, "finite": True},
        {"set": "a", "model": "m", "kld": 3.0, "nll": None, "finite": True},
        {"set": "a", "model": "n", "kld": None, "nll": 2.0, "finite": False},
        {"set": "b", "model": "m", "kld": 5.0, "nll": 1.0, "finite": True},
    ]
    summary = summarise_rows(rows, ("set", "model"), ("kld", "nll"), count_non_finite=True)
    assert summary == {
        "a": {
            "m": {"kld": 2.0, "nll": None, "images": 2, "non_finite": 0},
            "n": {"kld": None, "nll": 2.0, "images": 1, "non_finite": 1},
        },
        "b": {"m": {"kld": 5.0, "nll": 1.0, "images": 1, "non_finite": 0}},
    }
    assert list(summarise_rows(rows, ("model",), ("kld",))) == ["m", "n"]


def test_markdown_table_and_cells():
    lines = markdown_table(["model", "A", "B"], [["x", cell(0.5), cell(None)]], ["---:", "---"])
    assert lines == ["| model | A | B |", "| --- | ---: | --- |", "| x | 0.5000 | - |"]
    assert cell(1 / 3, ".2f") == "0.33"


def test_write_outputs_replaces_whole_files_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out" / "nested"
    paths = write_outputs(out, {"a.md": "old\n", "a.json": json.dumps({"x": 1})})
    assert [p.name for p in paths] == ["a.md", "a.json"]
    write_outputs(out, {"a.md": "new\n"})
    assert (out / "a.md").read_text() == "new\n" and json.loads((out / "a.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "a.md"]


def test_clean_raw_crops_unprocess_centre_crops_and_reject_an_empty_selection(tmp_path):
    for k, (h, w) in enumerate(((40, 48), (36, 60))):
        write_png(tmp_path / f"{k}.png", torch.rand(3, h, w, generator=_gen(k)))
    raw = clean_raw_crops(tmp_path, None, 32, seed=0)
    assert raw.shape == (2, 4, 16, 16) and 0 <= float(raw.min()) and float(raw.max()) <= 1
    assert torch.equal(raw, clean_raw_crops(tmp_path, None, 32, seed=0))
    assert clean_raw_crops(tmp_path, 1, 32, seed=0).shape == (1, 4, 16, 16)
    with pytest.raises(NoiseaugFileNotFoundError, match="images: no images"):
        clean_raw_crops(tmp_path, 0, 32, seed=0)


def test_synthesize_and_likelihoods_give_every_model_for_a_pair():
    torch.manual_seed(0)
    model = NAFlow(["quiet", "loud"], levels=1, blocks=1, hidden=8, features=4).eval()
    clean = torch.rand(1, 3, 16, 16, generator=_gen(0)).mul(0.8).add(0.1)
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=_gen(1))).clamp(0, 1).mul(255).round().div(255)
    baselines = fit_per_image(noisy, clean)
    samples = synthesize(model, baselines, noisy, clean, _gen(2))
    assert tuple(samples) == MODELS
    for image in samples.values():
        assert image.shape == clean.shape and torch.equal(image, image.mul(255).round().div(255).clamp(0, 1))
    again = synthesize(model, baselines, noisy, clean, _gen(2))
    assert all(torch.equal(samples[k], again[k]) for k in MODELS)
    nll = likelihoods(model, baselines, noisy, clean, _gen(3))
    assert list(nll) == [AWGN_FIT, NLF_FIT, NAFLOW_NAS] and all(math.isfinite(v) for v in nll.values())


def test_simcam_results_evaluates_a_flow_and_every_baseline(tmp_path):
    for i in range(3):
        write_png(tmp_path / "images" / f"img{i}.png", torch.rand(3, 80, 80, generator=_gen(i)))
    flow = NoiseFlow(["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"], [100, 400, 800, 1600, 3200], variant="nlf")
    save_pretrained(flow, tmp_path / "flow")
    report = simcam_results(
        {"flow": tmp_path / "flow"}, tmp_path / "images", pixel_independent=True, test_batches=1, train_batches=2
    )
    assert report["test_patches"] == 32 and report["setting"] == "pixel-independent Poisson-Gaussian"
    results = report["results"]
    assert list(results)[0] == "flow" and "simulator's exact likelihood" in results and len(results) == 7
    assert all(math.isfinite(r["val_nll"]) and r["val_kl"] >= 0 for r in results.values())
    # the exact likelihood is the best any model can do on average
    assert results["simulator's exact likelihood"]["val_nll"] <= min(r["val_nll"] for r in results.values()) + 1e-6
    assert "| simulator's analytic NLF |" in simcam_markdown(report)


def _checkpoint(steps=100):
    history = [
        {"step": 50, "elapsed_s": 60.0, "val_psnr": 30.0, "val_nll": -4.0, "val_kl": 0.02},
        {"step": 100, "elapsed_s": 120.0, "val_psnr": 29.0, "val_nll": -3.9, "val_kl": 0.03},
    ]
    return {
        "config": {"steps": steps, "lr": 1e-3, "lr_decay_at": [80], "val_every": 50},
        "state": {"history": history, "best_step": 50, "step": steps},
    }


def test_denoiser_release_writes_the_weights_and_a_card_from_the_records(tmp_path):
    source = save_pretrained(DnCNN(depth=3, width=4), tmp_path / "run" / "denoiser")
    evaluation = {
        "models": {"AWGN": "runs/dncnn/awgn/denoiser", "dncnn-nlf": "dncnn-nlf"},
        "results": {"sidd-dev": {"noisy input": {"psnr": 25.0, "ssim": 0.5}, "AWGN": {"psnr": 30.123, "ssim": 0.8}}},
    }
    labels = release_labels(evaluation)
    assert labels == {"awgn": "AWGN", "dncnn-nlf": "dncnn-nlf"}
    model = json.loads((source / "config.json").read_text())
    card = denoiser_card("awgn", _checkpoint(), model, evaluation, labels["awgn"])
    assert "# dncnn-awgn" in card and "depth 3, width 4" in card and "step 50 (validation PSNR 30.00 dB" in card
    assert "| **AWGN (these weights)** | 30.12 dB / 0.8000 |" in card and "1,600 crops, 2 min of wall time" in card
    assert "1,600 crops, 5 min of wall time" in denoiser_card(
        "awgn", _checkpoint(), model, evaluation, "AWGN", wall_s=300
    )
    target = release_folder(source, tmp_path / "weights" / "dncnn-awgn", card)
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert (target / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()
    assert (target / "README.md").read_text() == card


def test_every_noise_source_has_a_card_text():
    from noiseaug.eval.release import NOISE_TEXT
    from noiseaug.recipes.dncnn import NOISE_SOURCES

    assert set(NOISE_TEXT) == set(NOISE_SOURCES)
    model = {"depth": 3, "width": 4}
    evaluation = {"models": {"x": "run"}, "results": {"sidd-dev": {"x": {"psnr": 30.0, "ssim": 0.8}}}}
    card = denoiser_card("naflow-phone-fitted", _checkpoint(), model, evaluation, "x")
    assert "# dncnn-naflow-phone-fitted" in card and "each of the 43 real SIDD smartphone pairs" in card
    assert "BSD300" in card and "--clean" not in card


def test_denoiser_card_states_the_clean_images_of_the_run():
    from noiseaug.eval.release import CLEAN_TEXT
    from noiseaug.recipes.dncnn import CleanSource

    assert set(CLEAN_TEXT) == set(get_args(CleanSource))
    model = {"depth": 3, "width": 4}
    evaluation = {"models": {"x": "run"}, "results": {"sidd-dev": {"x": {"psnr": 30.0, "ssim": 0.8}}}}
    card = denoiser_card("naflow-phone", _checkpoint(), model, evaluation, "x", clean="sidd-train")
    assert "--noise naflow-phone --clean sidd-train --out" in card and "BSD300" not in card
    assert "clean halves of the 43 `real-srgb/sidd-train` phone pairs" in card
    real = denoiser_card("real-phone", _checkpoint(), model, evaluation, "x", clean="sidd-train")
    assert "--clean" not in real  # real pairs bring their own clean images
    other = denoiser_card("naflow-phone", _checkpoint(), model, evaluation, "x", clean="sidd-train", flow="runs/f")
    assert "--clean sidd-train --flow runs/f --out" in other
    assert "the NAFlow `runs/f`" in other and "the released `naflow-srgb`" not in other
    assert 'from_pretrained("runs/f", configurations=PHONE_CONFIGURATIONS)' in other and "naflow-srgb" not in other


def test_noiseflow_release_loads_the_checkpoint_weights_and_states_the_metrics():
    trained = NoiseFlow(["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"], [100.0, 400.0, 800.0, 1600.0, 3200.0])
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.01)
    checkpoint = _checkpoint() | {"model": {f"noise_model.{k}": v for k, v in trained.state_dict().items()}}
    flow = simcam_flow(checkpoint)
    assert all(
        torch.equal(a, b) for a, b in zip(flow.state_dict().values(), trained.state_dict().values(), strict=True)
    )
    evaluation = {"test_patches": 1280, "results": {"Noise Flow": {"val_nll": -4.1234, "val_kl": 0.0123}}}
    card = noiseflow_card("noiseflow-simcam", flow, checkpoint, evaluation, exact=evaluation)
    assert "| Noise Flow | -4.1234 | 0.0123 |" in card and "step 50 of the 100 run" in card
    assert "pixel-independent simulator" in card and "1280 held-out patches" in card


def test_timed_and_make_step():
    assert len(timed(lambda: None, 3, torch.device("cpu"))) == 3
    net = DnCNN(channels=3, depth=3, width=4)
    step = make_step(net, torch.optim.Adam(net.parameters(), lr=1e-2), torch.enable_grad)
    before = [p.detach().clone() for p in net.parameters()]
    step(torch.rand(2, 3, 8, 8, generator=_gen(0)), torch.rand(2, 3, 8, 8, generator=_gen(1)))
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
