"""Reference-denoiser training on synthesized pairs, the raw route through the ISP, and ``noiseaug denoise``."""

import json
import subprocess
import sys

import pytest
import torch

from noiseaug import DnCNN, GaussianNoiseTransform, NAFlowTransform, PoissonGaussianNoiseTransform
from noiseaug.data.batches import SynthesizedPairs
from noiseaug.data.root import data_root
from noiseaug.denoise import denoise_files, load_denoiser
from noiseaug.errors import NoiseaugInputError
from noiseaug.flows.naflow import NAFlow
from noiseaug.hub import save_pretrained
from noiseaug.imageio import read_image, write_png
from noiseaug.recipes import DnCNNConfig, run_recipe, stream_seed
from noiseaug.recipes.dncnn import NOISE_SOURCES, SYNTHETIC_SOURCES, noise_source
from noiseaug.training.checkpoint import load_checkpoint
from noiseaug.transforms.raw_route import RawRouteTransform


def _images(n=3, h=40, w=52, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth content (a denoiser can tell it from noise) with a saturated corner
    base = torch.rand(n, 3, h // 4, w // 4, generator=g)
    images = torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    images[:, :, :8, :8] = 1.0
    return list(images)


def test_synthesized_pairs_are_deterministic_8bit_and_aligned():
    pairs = SynthesizedPairs(_images(), GaussianNoiseTransform(sigma=0.05), patch=16, batch_size=6, seed=3)
    a, b = pairs.batch(7), pairs.batch(7)
    assert torch.equal(a.noisy, b.noisy) and torch.equal(a.clean, b.clean)
    assert not torch.equal(a.noisy, pairs.batch(8).noisy)
    assert a.noisy.shape == a.clean.shape == (6, 3, 16, 16)
    assert torch.equal(a.noisy, (a.noisy * 255).round() / 255)
    residual = (a.noisy - a.clean).std()
    assert 0.035 < float(residual) < 0.065


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"images": []}, "at least one"),
        ({"patch": 15}, "even"),
        ({"patch": 64}, "H, W >= patch"),
    ],
)
def test_synthesized_pairs_reject_bad_settings(kwargs, message):
    settings = {
        "images": _images(),
        "noise": GaussianNoiseTransform(),
        "patch": 16,
        "batch_size": 2,
        "seed": 0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        SynthesizedPairs(**settings)


def test_noise_sources_are_named_and_unknown_names_fail():
    assert set(NOISE_SOURCES) == {
        "awgn",
        "nlf",
        "pg",
        "naflow",
        "naflow-phone",
        "naflow-phone-spread",
        "naflow-phone-tone",
        "naflow-phone-spread-tone",
        "noiseflow-isp",
        "naflow-phone-fitted",
        "naflow-phone-fitted-brightness",
        "real",
        "real-phone",
    }
    with pytest.raises(ValueError, match="noise must be one of"):
        noise_source("speckle")
    with pytest.raises(NoiseaugInputError, match="noise must be one of"):
        DnCNNConfig(noise="speckle")  # refused when the config is made, before any run folder is touched


@pytest.mark.parametrize("name", list(SYNTHETIC_SOURCES))
def test_every_synthetic_source_gives_finite_noise_on_saturated_content(name):
    """Regression: the first NAFlow release (Glow's unfloored coupling scale) overflowed to Inf on crops
    with saturated regions; a floored scale keeps sampling bounded."""
    clean = torch.stack(_images(n=8, h=48, w=48, seed=1))
    clean[:4, :, 16:, :24] = 0.0
    noisy = noise_source(name)(clean, generator=torch.Generator().manual_seed(0))
    noise = noisy - clean
    assert torch.isfinite(noise).all()
    assert float(noise.abs().amax()) < 0.9
    assert float(noise.std()) > 1e-3


def test_naflow_phone_source_draws_only_the_released_flows_phone_configurations():
    from noiseaug.recipes.dncnn import PHONE_CONFIGURATIONS

    phone = noise_source("naflow-phone")
    assert phone.configurations == list(PHONE_CONFIGURATIONS)
    assert set(PHONE_CONFIGURATIONS) < set(phone.model.configurations)  # a strict subset of the 23 trained ones
    rows = {phone.model.configurations.index(c) for c in PHONE_CONFIGURATIONS}
    assert set(phone.config_choices.tolist()) == rows


def test_naflow_phone_spread_source_is_naflow_phone_with_a_temperature_per_crop():
    from noiseaug.recipes.dncnn import PHONE_TEMPERATURES

    phone, spread = noise_source("naflow-phone"), noise_source("naflow-phone-spread")
    assert spread.configurations == phone.configurations and spread.temperature == PHONE_TEMPERATURES
    clean = torch.stack(_images(n=16, h=48, w=48, seed=7)) * 0.6 + 0.2
    params = spread.generate_parameters(clean.shape, generator=torch.Generator().manual_seed(0))
    temperatures = params.draws["temperature"]
    assert float(temperatures.min()) >= 2 / 3 and float(temperatures.max()) <= 3 / 2
    noise = (spread(clean, generator=torch.Generator().manual_seed(1), params=params) - clean).flatten(1).std(1)
    same_config = params.draws["config"] == params.draws["config"][0]
    hot, cold = temperatures[same_config].argmax(), temperatures[same_config].argmin()
    assert float(noise[same_config][hot]) > float(noise[same_config][cold])  # a hotter latent, louder noise


@pytest.mark.parametrize(
    ("plain_name", "toned_name"),
    [("naflow-phone", "naflow-phone-tone"), ("naflow-phone-spread", "naflow-phone-spread-tone")],
)
def test_tone_sources_are_their_plain_source_darkened_by_the_tone_curves_term(plain_name, toned_name):
    from noiseaug.noise.tone_curve import tone_curve_shift
    from noiseaug.recipes.dncnn import PHONE_TONE_SHIFT

    phone, toned = noise_source(plain_name), noise_source(toned_name)
    assert toned.configurations == phone.configurations and toned.temperature == phone.temperature
    assert toned.tone_shift == PHONE_TONE_SHIFT > 0 and phone.tone_shift == 0
    phone.clip = toned.clip = False  # compare the noise before the [0, 1] clamp
    clean = torch.stack(_images(n=8, h=48, w=48, seed=7))
    plain = phone(clean, generator=torch.Generator().manual_seed(1))
    expected = clean + tone_curve_shift(clean, plain - clean, PHONE_TONE_SHIFT)
    torch.testing.assert_close(toned(clean, generator=torch.Generator().manual_seed(1)), expected)


def test_flow_option_draws_the_naflow_sources_from_the_named_model_folder(tmp_path):
    from noiseaug.recipes.dncnn import PHONE_CONFIGURATIONS

    flow = NAFlow([*PHONE_CONFIGURATIONS, "d800-iso3200"], levels=1, blocks=1, hidden=8, features=4)
    save_pretrained(flow, tmp_path / "flow")
    phone = noise_source("naflow-phone", flow=str(tmp_path / "flow"))
    assert phone.model.configurations == flow.configurations and phone.configurations == list(PHONE_CONFIGURATIONS)
    loaded = phone.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in flow.state_dict().items())
    assert noise_source("naflow", flow=str(tmp_path / "flow")).model.hidden == 8
    with pytest.raises(NoiseaugInputError, match="flow applies to the naflow"):
        DnCNNConfig(noise="awgn", flow=str(tmp_path / "flow"))  # refused: awgn would silently ignore it


def _phone_pairs(root, levels=(0.01, 0.03, 0.08)):
    """A data root whose ``real-srgb/sidd-train`` holds one small phone-named pair per noise level, quietest first."""
    folder = root / "real-srgb" / "sidd-train"
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(5)
    for i, (clean, level) in enumerate(zip(_images(n=len(levels), h=32, w=40, seed=4), levels, strict=True)):
        noisy = (clean * 0.8 + 0.1 + level * torch.randn(clean.shape, generator=g)).clamp(0, 1)
        stem = f"S6_iso{100 * 2**i:05d}_000{i}_001_0000-0000"
        write_png(folder / f"{stem}_noisy.png", noisy)
        write_png(folder / f"{stem}_clean.png", clean * 0.8 + 0.1)
    return folder


def test_naflow_phone_fitted_source_fits_the_released_flow_to_each_pair_of_the_data_root(tmp_path):
    from noiseaug.recipes.dncnn import naflow_phone_fitted

    folder = _phone_pairs(tmp_path)
    bank = noise_source("naflow-phone-fitted", tmp_path)
    assert bank.per_reference and bank.reference_method == "fitted" and not bank.training
    names = sorted(p.name for p in folder.glob("*_noisy.png"))
    assert bank.reference_std.shape == (3, bank.model.latent_channels)
    for row, name in enumerate(names):  # one latent per pair, in name order
        noisy, clean = read_image(folder / name), read_image(folder / name.replace("_noisy", "_clean"))
        fit = bank.model.fit_latent(noisy, clean)
        assert torch.equal(bank.reference_mean[row], fit.mean) and torch.equal(bank.reference_std[row], fit.std)
    assert torch.equal(naflow_phone_fitted(str(tmp_path)).reference_std, bank.reference_std)
    assert not bank.signal_dependent and not bank.reference_slope.any()
    brightness = noise_source("naflow-phone-fitted-brightness", tmp_path)
    assert brightness.signal_dependent and brightness.reference_slope.abs().sum() > 0
    clean = torch.stack(_images(n=12, h=48, w=48, seed=6)) * 0.6 + 0.2
    g = torch.Generator().manual_seed(0)
    params = bank.generate_parameters(clean.shape, generator=g)
    noise = (bank(clean, generator=g, params=params) - clean).flatten(1).std(1)
    picks = params.draws["reference"]
    assert set(picks.tolist()) == {0, 1, 2} and bool(torch.isfinite(noise).all())
    assert float(noise[picks == 0].max()) < float(noise[picks == 2].min())  # each crop follows its drawn pair


def test_dncnn_recipe_fits_naflow_phone_fitted_to_its_data_root(tmp_path):
    _phone_pairs(tmp_path / "data", levels=(0.02, 0.06))
    train = _folder(tmp_path / "train", _images(n=2, h=32, w=32, seed=2))
    config = DnCNNConfig(
        noise="naflow-phone-fitted",
        images=str(train),
        val_images=str(train),
        data=str(tmp_path / "data"),
        steps=2,
        batch=2,
        patch=16,
        depth=2,
        width=4,
        val_crops=2,
        val_every=2,
    )
    exports = run_recipe(config, tmp_path / "run", progress=False)
    assert isinstance(exports["denoiser"], DnCNN) and (tmp_path / "run" / "denoiser").is_dir()
    with pytest.raises(FileNotFoundError):  # the data root's phone pairs are what it fits to
        noise_source("naflow-phone-fitted", tmp_path / "empty")


def test_val_on_training_validates_on_the_training_images_and_leaves_training_alone(tmp_path):
    train = _folder(tmp_path / "train", _images(n=2, h=32, w=32, seed=2))
    other = _folder(tmp_path / "other", _images(n=2, h=32, w=32, seed=9))
    small = dict(noise="nlf", images=str(train), steps=4, batch=2, patch=16, depth=2, width=4, val_crops=2, val_every=2)
    runs = {
        "on-training": DnCNNConfig(**small, val_on_training=True),
        "training-folder": DnCNNConfig(**small, val_images=str(train)),
        "other-folder": DnCNNConfig(**small, val_images=str(other)),
    }
    for label, config in runs.items():
        run_recipe(config, tmp_path / label, progress=False)
    history = {label: json.loads((tmp_path / label / "history.json").read_text()) for label in runs}
    weights = {label: load_checkpoint(tmp_path / label / "last.pt")["model"] for label in runs}
    val = {label: [entry["val_mse"] for entry in h if "val_mse" in entry] for label, h in history.items()}
    assert len(val["on-training"]) == 2 and val["on-training"] == val["training-folder"] != val["other-folder"]
    for label in ("training-folder", "other-folder"):  # validation draws nothing from the training streams
        assert all(torch.equal(weights["on-training"][k], v) for k, v in weights[label].items())
    with pytest.raises(NoiseaugInputError, match="val_on_training applies to the synthetic sources"):
        DnCNNConfig(**small, val_on_training=True, val_images=str(other))
    with pytest.raises(NoiseaugInputError, match="val_on_training applies to the synthetic sources"):
        DnCNNConfig(noise="real-phone", val_on_training=True)


def test_val_on_real_pairs_validates_on_real_phones_crops_and_leaves_training_alone(tmp_path):
    from noiseaug.data.real_srgb import RealPairs, real_srgb_split
    from noiseaug.recipes.dncnn import real_validation_crops

    try:
        data_root()
    except FileNotFoundError as err:
        pytest.skip(f"shared data not available: {err}")
    small = dict(steps=2, batch=2, patch=16, depth=2, width=4, val_crops=4, val_every=2)
    runs = {
        "real-phone": DnCNNConfig(**small, noise="real-phone"),
        "real-pairs": DnCNNConfig(**small, noise="nlf", clean="sidd-train", val_on_real_pairs=True),
        "kodak": DnCNNConfig(**small, noise="nlf", clean="sidd-train"),
    }
    phone_pairs = RealPairs.load(real_srgb_split(sources=("sidd-train",))[0])
    crops = real_validation_crops(phone_pairs, runs["real-phone"], stream_seed(0, 0, "validation"))
    for label, config in runs.items():
        run_recipe(config, tmp_path / label, progress=False)
        denoiser = load_denoiser(tmp_path / label / "denoiser")  # the one validation's step: best and last
        with torch.no_grad():
            mse = float(torch.nn.functional.mse_loss(denoiser(crops.noisy).clamp(0, 1), crops.clean))
        history = json.loads((tmp_path / label / "history.json").read_text())
        assert (history[-1]["val_mse"] == pytest.approx(mse, rel=1e-6)) == (label != "kodak")
    kodak_weights = load_checkpoint(tmp_path / "kodak" / "last.pt")["model"]  # validation draws nothing from training
    real_pairs_weights = load_checkpoint(tmp_path / "real-pairs" / "last.pt")["model"]
    assert all(torch.equal(kodak_weights[k], v) for k, v in real_pairs_weights.items())
    for bad in (
        dict(noise="real-phone"),
        dict(noise="nlf"),  # clean defaults to clean/bsd300-test, which has no real pairs
        dict(noise="nlf", clean="sidd-train", val_on_training=True),
        dict(noise="nlf", clean="sidd-train", val_images=str(tmp_path)),
    ):
        with pytest.raises(NoiseaugInputError, match="val_on_real_pairs applies to a synthetic source"):
            DnCNNConfig(**bad, val_on_real_pairs=True)


def test_dncnn_clean_images_come_from_images_or_the_sidd_train_pairs(tmp_path):
    from noiseaug.recipes.dncnn import clean_images

    folder = _phone_pairs(tmp_path / "data")
    cleans = sorted(folder.glob("*_clean.png"))
    config = DnCNNConfig(noise="nlf", clean="sidd-train", data=str(tmp_path / "data"))
    got = clean_images(config)
    assert len(got) == len(cleans) and all(img.dtype == torch.uint8 for img in got)
    assert {tuple(img.flatten()[:64].tolist()) for img in got} == {
        tuple((read_image(path) * 255).round().to(torch.uint8).flatten()[:64].tolist()) for path in cleans
    }  # the clean halves, not the noisy ones
    train = _folder(tmp_path / "train", _images(n=2, h=32, w=32, seed=2))
    assert len(clean_images(DnCNNConfig(noise="nlf", clean="sidd-train", images=str(train)))) == 2  # --images wins
    with pytest.raises(NoiseaugInputError, match="clean must be one of"):
        DnCNNConfig(noise="nlf", clean="kodak")


def test_naflow_source_stays_finite_on_the_bsd300_crops_that_overflowed_the_first_release():
    from noiseaug.data.root import data_folder
    from noiseaug.data.simulated_pairs import read_image_folder

    images = list(read_image_folder(data_folder("clean", "bsd300-test")).values())
    pairs = SynthesizedPairs(images, noise_source("naflow"), patch=48, batch_size=16, seed=0)
    for step in (0, 18):  # batch 0 row 9 and batch 18 row 2 gave Inf/NaN with the unfloored scale
        batch = pairs.batch(step)
        noise = batch.noisy - batch.clean
        assert torch.isfinite(noise).all()
        assert float(noise.abs().amax()) < 0.9


def test_raw_route_keeps_the_clean_image_and_adds_correlated_processed_noise():
    clean = torch.stack(_images(n=4, h=48, w=48))
    silent = RawRouteTransform(GaussianNoiseTransform(sigma=0.0), clip=False)
    assert torch.equal(silent(clean, generator=torch.Generator().manual_seed(0)), clean)
    route = RawRouteTransform(PoissonGaussianNoiseTransform(gain=0.01, read_sigma=0.01), clip=False)
    a = route(clean, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, route(clean, generator=torch.Generator().manual_seed(1)))
    noise = a - clean
    # bilinear demosaicking spreads each raw sample over neighbours: horizontal correlation appears
    left, right = noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()
    assert float(torch.corrcoef(torch.stack([left, right]))[0, 1]) > 0.2


def test_raw_route_rejects_odd_sizes_and_non_transforms():
    route = RawRouteTransform(GaussianNoiseTransform(sigma=0.01))
    with pytest.raises(ValueError, match="even H and W"):
        route(torch.rand(1, 3, 15, 16))
    with pytest.raises(TypeError, match="raw must be a NoiseTransform"):
        RawRouteTransform(torch.nn.Identity())


def _folder(path, images):
    for k, img in enumerate(images):
        write_png(path / f"img{k}.png", img)
    return path


@pytest.mark.slow
def test_train_denoiser_learns_awgn_and_writes_a_loadable_denoiser(tmp_path):
    train = _folder(tmp_path / "train", _images(n=4, h=64, w=64, seed=2))
    val = _folder(tmp_path / "val", _images(n=2, h=64, w=64, seed=3))
    out = tmp_path / "run"
    config = DnCNNConfig(
        noise="awgn",
        images=str(train),
        val_images=str(val),
        steps=60,
        batch=8,
        patch=32,
        lr=2e-3,
        depth=4,
        width=16,
        val_crops=16,
        val_every=30,
    )
    exports = run_recipe(config, out, progress=False)
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history] == [30, 60]
    model = load_denoiser(out / "denoiser")
    assert list(exports) == ["denoiser"] and isinstance(exports["denoiser"], DnCNN)
    val_seed = stream_seed(0, 0, "validation")  # the recipe's validation crops: rank 0's "validation" stream
    pairs = SynthesizedPairs(
        [read_image(p) for p in sorted(val.iterdir())], noise_source("awgn"), 32, 16, seed=val_seed
    )
    batch = pairs.batch(0)
    with torch.no_grad():
        denoised_error = torch.nn.functional.mse_loss(model(batch.noisy).clamp(0, 1), batch.clean)
    noisy_error = torch.nn.functional.mse_loss(batch.noisy, batch.clean)
    assert float(denoised_error) < 0.7 * float(noisy_error)


def test_denoise_files_and_cli_on_a_file_and_a_folder(tmp_path):
    torch.manual_seed(0)
    model = DnCNN(depth=3, width=8).eval()
    torch.nn.init.normal_(model.body[-1].weight, std=0.01)
    save_pretrained(model, tmp_path / "model")
    images = _folder(tmp_path / "noisy", _images(n=2, h=24, w=30))
    written = denoise_files(load_denoiser(tmp_path / "model"), images, tmp_path / "out", progress=False)
    assert [p.name for p in written] == ["img0.png", "img1.png"]
    with torch.no_grad():
        expected = model(read_image(images / "img0.png")[None]).clamp(0, 1)[0]
    assert float((read_image(written[0]) - expected).abs().max()) <= 0.5 / 255 + 1e-6
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "noiseaug",
            "denoise",
            str(images / "img1.png"),
            str(tmp_path / "one.png"),
            "--model",
            str(tmp_path / "model"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_image(tmp_path / "one.png").shape == (3, 24, 30)


def test_denoise_refuses_models_that_are_not_denoisers(tmp_path):
    save_pretrained(NAFlow(["a-iso100"], hidden=4, features=2), tmp_path / "flow")
    with pytest.raises(TypeError, match="not a denoiser"):
        load_denoiser(tmp_path / "flow")
    with pytest.raises(FileNotFoundError, match="source not found"):
        denoise_files(DnCNN(depth=3, width=4), tmp_path / "missing", tmp_path / "out")


def test_naflow_transform_is_exported_at_the_top_level():
    import noiseaug

    assert noiseaug.NAFlowTransform is NAFlowTransform


def test_denoising_benchmark_smoke(tmp_path):
    from pathlib import Path

    save_pretrained(DnCNN(depth=3, width=4), tmp_path / "tiny")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "denoising.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--model",
            f"tiny={tmp_path / 'tiny'}",
            "--limit",
            "1",
            "--no-figure",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "denoising.json").read_text())
    for per_set in report["results"].values():
        # a fresh residual DnCNN is the identity: the same PSNR as the noisy input
        for key in ("psnr", "offset", "psnr_without_offset"):
            assert per_set["tiny"][key] == pytest.approx(per_set["noisy input"][key])
        # removing each channel's mean error can only lower the error
        assert per_set["noisy input"]["psnr_without_offset"] >= per_set["noisy input"]["psnr"]
    assert not (tmp_path / "out" / "denoising_crops.png").exists()
