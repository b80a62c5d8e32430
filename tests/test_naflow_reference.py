"""NAFlow's reference paths: the tempered posterior of noise-aware sampling, the fitted latent, the paper's encoder."""

import pytest
import torch
import torch.nn.functional as F
from flow_helpers import trained_looking

from noiseaug import NAFlow, NoiseCondition
from noiseaug.flows.latent_fit import LatentGaussian
from noiseaug.flows.naflow import UnshuffleConditionEncoder
from noiseaug.hub import load_folder, model_from_config, save_pretrained
from noiseaug.transforms.naflow import NAFlowTransform

CONFIGS = ["cam-a-iso100", "cam-a-iso3200", "cam-b-iso800"]


def small_flow(seed=0, **kwargs):
    flow = trained_looking(NAFlow, CONFIGS, seed=seed, hidden=8, features=4, levels=2, **kwargs)
    with torch.no_grad():  # quiet, loud and middle configurations
        flow.log_stds.copy_(torch.tensor([-1.0, 1.0, 0.0])[:, None].expand_as(flow.log_stds))
    return flow


def reference_pair(flow, config=1, size=32, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(batch, 3, size, size, generator=g) * 0.6 + 0.2
    return flow.sample(clean, NoiseCondition(config=torch.full((batch,), config)), g), clean


def test_posterior_interpolates_between_rank1_and_the_exact_posterior():
    flow = small_flow()
    noisy, clean = reference_pair(flow)
    positions = (32 // 4) ** 2
    torch.testing.assert_close(flow.posterior(noisy, clean, 1 / positions), flow.classify(noisy, clean))
    rank1 = flow.posterior(noisy, clean, 0.0)
    assert torch.equal(rank1, F.one_hot(flow.classify(noisy, clean).argmax(1), 3).float())
    entropies = [
        float(-(w * w.clamp(min=1e-30).log()).sum(1).mean())
        for w in (flow.posterior(noisy, clean, t) for t in (0.01, 1.0, 100.0, 1e4))
    ]
    assert entropies == sorted(entropies) and entropies[-1] > 0.5  # hotter mixes more
    assert int(flow.posterior(noisy, clean)[0].argmax()) == 1  # the configuration that made the reference


def test_fitted_latent_recovers_a_gaussian_outside_every_configuration():
    flow = small_flow()
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(4, 3, 32, 32, generator=g) * 0.6 + 0.2
    channels = flow.latent_channels
    mean = 0.3 * torch.randn(channels, generator=g)
    std = torch.full((channels,), 5.0)  # e^1.6: louder than the loudest configuration (e^1)
    with torch.no_grad():
        noisy = flow._sample_gaussian(clean, LatentGaussian(mean, std), g, 1.0)
    fitted_mean, fitted_std, _ = flow.fit_latent(noisy, clean, match_std=False)  # the maximum-likelihood fit alone
    assert float((fitted_std / std - 1).abs().max()) < 0.25 and float((fitted_std / std).mean()) == pytest.approx(
        1, abs=0.03
    )
    assert float((fitted_mean - mean).abs().max()) < 1.5  # 4 std errors of a 256-sample mean
    nas_std = flow.mixture(flow.posterior(noisy, clean))[1]
    assert float(nas_std.detach().max()) < 0.7 * float(fitted_std.min())  # no mixture reaches it
    again = flow.sample_fitted(clean, noisy, clean, torch.Generator().manual_seed(2))
    assert ((again - clean).std() / (noisy - clean).std()).item() == pytest.approx(1, abs=0.1)


def test_matching_the_std_reproduces_a_louder_reference_closer_than_the_diagonal_fit():
    flow = small_flow()
    g = torch.Generator().manual_seed(3)
    clean = torch.rand(2, 3, 32, 32, generator=g) * 0.6 + 0.2
    with torch.no_grad():
        sample = flow._sample_gaussian(clean, LatentGaussian(flow.means[2], flow.log_stds[2].exp()), g, 1.0)
    noisy = clean + 3 * (sample - clean)  # three times a configuration's noise: louder than any
    errors = {}
    for match in (False, True):
        fit = flow.fit_latent(noisy, clean, match)
        with torch.no_grad():
            flow_noisy = flow._sample_gaussian(clean, fit, torch.Generator().manual_seed(4), 1.0)
        errors[match] = abs(float((flow_noisy - clean).std() / (noisy - clean).std()) - 1)
    assert errors[True] < 0.03 and errors[True] < errors[False]


def test_transform_reference_methods():
    flow = small_flow()
    noisy, clean = reference_pair(flow)
    nas = NAFlowTransform(flow, mode="reference", reference=(noisy, clean), posterior_temperature=0.5)
    torch.testing.assert_close(nas.reference_weights, flow.posterior(noisy, clean, 0.5).mean(0))
    fitted = NAFlowTransform(flow, mode="reference", reference_method="fitted", reference=(noisy, clean), clip=False)
    expected = flow.fit_latent(noisy, clean)
    torch.testing.assert_close(fitted.reference_std, expected.std)
    assert expected.slope is None and torch.equal(fitted.reference_slope, torch.zeros_like(expected.std))
    target = torch.rand(3, 3, 21, 30, generator=torch.Generator().manual_seed(4)) * 0.6 + 0.2
    out = fitted(target, generator=torch.Generator().manual_seed(5))
    assert out.shape == target.shape and bool(torch.isfinite(out).all())
    assert "reference_method='fitted'" in repr(fitted)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(reference_method="nearest"), ValueError, "reference_method must be one of"),
        (dict(posterior_temperature=-0.5), ValueError, "posterior_temperature must be a finite number >= 0"),
    ],
)
def test_transform_option_errors(kwargs, error, match):
    flow = small_flow()
    with pytest.raises(error, match=match):
        NAFlowTransform(flow, mode="reference", reference=reference_pair(flow), **kwargs)


@pytest.mark.parametrize("method", ["nas", "fitted"])
def test_bad_references_fail_at_the_boundary(method):
    flow = small_flow()
    noisy, clean = reference_pair(flow)
    with pytest.raises(ValueError, match="reference noisy .* and clean .* must have the same shape"):
        NAFlowTransform(flow, mode="reference", reference_method=method, reference=(noisy, clean[..., :16]))
    with pytest.raises(ValueError, match="reference has no noise"):
        NAFlowTransform(flow, mode="reference", reference_method=method, reference=(clean, clean))
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        flow.posterior(noisy, clean, -1.0)
    with pytest.raises(ValueError, match="reference has no noise"):
        flow.fit_latent(clean, clean)
    with pytest.raises(ValueError, match="reference_noisy and reference_clean must have the same shape"):
        flow.sample_fitted(clean, noisy, clean[..., :16])
    with pytest.raises(ValueError, match="posterior_temperature must be a finite number >= 0"):
        flow.sample_noise_aware(clean, noisy, clean, posterior_temperature=-0.1)


def test_the_papers_encoder_sees_exactly_its_block_of_pixels():
    encoder = UnshuffleConditionEncoder(features=4, levels=3)
    clean = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    moved = clean.clone()
    moved[0, :, 9, 18] += 0.5
    for level, (a, b) in enumerate(zip(encoder(clean), encoder(moved), strict=True), start=1):
        assert a.shape == (1, 4, 32 >> level, 32 >> level)
        changed = (a != b).any(1)[0].nonzero().tolist()
        assert changed in ([[9 >> level, 18 >> level]], [])  # only the block holding the pixel (or no ReLU pass)
    assert len((encoder(clean)[0] != encoder(moved)[0]).any(1).nonzero()) <= 1


def test_encoder_choice_round_trips_and_old_configs_load_the_cnn(tmp_path):
    flow = small_flow(encoder="unshuffle")
    save_pretrained(flow, tmp_path / "u")
    loaded = load_folder(tmp_path / "u")
    assert loaded.config["encoder"] == "unshuffle" and isinstance(loaded.encoder, UnshuffleConditionEncoder)
    noisy, clean = reference_pair(flow, size=16)
    torch.testing.assert_close(loaded.classify(noisy, clean), flow.classify(noisy, clean))
    assert model_from_config({k: v for k, v in small_flow().config.items() if k != "encoder"}).encoder_name == "cnn"
    with pytest.raises(ValueError, match="encoder must be one of"):
        NAFlow(CONFIGS, encoder="resnet")


def reference_bank(flow):
    """Three reference pairs of different sizes: quiet, loud and middle configurations' noise."""
    pairs = [reference_pair(flow, config, size, batch=1, seed=config) for config, size in ((0, 16), (1, 32), (2, 24))]
    return [noisy[0] for noisy, _ in pairs], [clean[0] for _, clean in pairs]


def fitted_bank(flow, reference, **kwargs):
    return NAFlowTransform(
        flow, mode="reference", reference_method="fitted", per_reference=True, reference=reference, **kwargs
    )


def test_the_bank_fits_one_latent_per_pair_of_any_size_or_per_batch_row():
    flow = small_flow()
    noisy, clean = reference_bank(flow)
    bank = fitted_bank(flow, (noisy, clean))
    assert bank.reference_mean.shape == bank.reference_std.shape == (3, flow.latent_channels)
    for i, (n, c) in enumerate(zip(noisy, clean, strict=True)):
        fit = flow.fit_latent(n, c)
        assert torch.equal(bank.reference_mean[i], fit.mean) and torch.equal(bank.reference_std[i], fit.std)
        assert fit.slope is None and not bank.reference_slope[i].any()  # a constant std by default
    assert (
        float(bank.reference_std[0].mean()) < float(bank.reference_std[2].mean()) < float(bank.reference_std[1].mean())
    )
    batch_noisy, batch_clean = reference_pair(flow, batch=2)
    rows = fitted_bank(flow, (batch_noisy, batch_clean))  # a batch: one reference per row, not pooled
    assert rows.reference_mean.shape == (2, flow.latent_channels)
    assert torch.equal(rows.reference_std[1], flow.fit_latent(batch_noisy[1], batch_clean[1])[1])
    assert "per_reference=True, references=2" in repr(rows)


def test_bank_draws_pick_references_per_image_reproducibly_and_noise_like_them():
    flow = small_flow()
    bank = fitted_bank(flow, reference_bank(flow), clip=False)
    target = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 0.6 + 0.2
    params = bank.generate_parameters(target.shape, generator=torch.Generator().manual_seed(5))
    picks = params.draws["reference"]
    assert len(set(picks.tolist())) == 3  # different references for different images
    assert torch.equal(params.draws["mean"], bank.reference_mean[picks])
    assert torch.equal(params.draws["std"], bank.reference_std[picks])
    assert torch.equal(params.draws["slope"], bank.reference_slope[picks])
    again = bank.generate_parameters(target.shape, generator=torch.Generator().manual_seed(5))
    assert torch.equal(again.draws["reference"], picks)
    assert not torch.equal(
        bank.generate_parameters(target.shape, generator=torch.Generator().manual_seed(6)).draws["reference"], picks
    )
    out = bank(target, generator=torch.Generator().manual_seed(7))
    assert torch.equal(out, bank(target, generator=torch.Generator().manual_seed(7)))
    # each image follows the reference it drew: the quiet one's noise is the weakest, the loud one's the strongest
    drawn = bank.generate_parameters(target.shape, generator=torch.Generator().manual_seed(7)).draws["reference"]
    std = (out - target).flatten(1).std(1)
    assert (
        float(std[drawn == 0].max())
        < float(std[drawn == 2].min())
        <= float(std[drawn == 2].max())
        < float(std[drawn == 1].min())
    )
    assert bank.describe_parameters(params, 3) == {"reference_method": "fitted", "reference": int(picks[3])}


def test_bank_replays_params_and_edited_picks():
    flow = small_flow()
    bank = fitted_bank(flow, reference_bank(flow), p=0.5)
    target = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    params = bank.generate_parameters(target.shape, generator=g)
    state = g.get_state()
    replayed = bank(target, generator=g, params=params)
    assert torch.equal(replayed, bank(target, generator=torch.Generator().manual_seed(2)))
    rows = params.selected
    assert torch.equal(replayed[~rows], target[~rows]) and torch.equal(
        params.draws["reference"][~rows], torch.zeros_like(params.draws["reference"][~rows])
    )
    # replaying reads mean, std and slope: pointing every row at the loud reference changes the noise accordingly
    loud = {f"draws.{name}": getattr(bank, f"reference_{name}")[1].expand(6, -1) for name in ("mean", "std", "slope")}
    g.set_state(state)
    louder = bank(target, generator=g, params=params.replace_tensors(loud))
    picked = params.draws["reference"][rows]
    quieter = rows.clone()
    quieter[rows] = picked != 1
    assert quieter.any()
    assert float((louder - target)[quieter].std()) > float((replayed - target)[quieter].std())


def test_per_reference_false_is_the_pooled_fit():
    flow = small_flow()
    noisy, clean = reference_pair(flow, batch=2)
    default = NAFlowTransform(flow, mode="reference", reference_method="fitted", reference=(noisy, clean))
    explicit = NAFlowTransform(
        flow, mode="reference", reference_method="fitted", reference=(noisy, clean), per_reference=False
    )
    fit = flow.fit_latent(noisy, clean)
    assert torch.equal(default.reference_mean, fit.mean) and torch.equal(explicit.reference_std, fit.std)
    assert sorted(explicit.parameter_spec()) == ["mean", "slope", "std"] and repr(explicit) == repr(default)
    target = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    expected = flow._sample_gaussian(target, fit, torch.Generator().manual_seed(4), 1.0)
    assert torch.equal(explicit(target, generator=torch.Generator().manual_seed(4)), expected.clamp(0, 1))


@pytest.mark.parametrize(
    "reference, error, match",
    [
        (([], []), ValueError, "reference noisy must hold at least one reference pair"),
        (("noisy", "clean"), TypeError, "reference noisy must be a tensor or a sequence of tensors"),
        ("two lengths", ValueError, "same number of pairs, got 3 and 2"),
        (
            "shapes",
            ValueError,
            r"reference pair 1 noisy \(1, 3, 32, 32\) and clean \(1, 3, 16, 16\) must have the same shape",
        ),
        ("identical", ValueError, "reference pair 2 noisy and clean images are identical"),
        ("small", ValueError, "reference pair 0: fit_latent needs images of at least 4x4"),
    ],
)
def test_bad_banks_fail_at_the_boundary_naming_the_pair(reference, error, match):
    flow = small_flow()
    noisy, clean = reference_bank(flow)
    if reference == "two lengths":
        reference = (noisy, clean[:2])
    elif reference == "shapes":
        reference = (noisy, [clean[0], clean[1][:, :16, :16], clean[2]])
    elif reference == "identical":
        reference = (noisy[:2] + [clean[2]], clean)
    elif reference == "small":
        reference = ([noisy[0][:, :2, :2]], [clean[0][:, :2, :2]])
    with pytest.raises(error, match=match):
        fitted_bank(flow, reference)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(per_reference=1), TypeError, "per_reference must be a bool, got int"),
        (
            dict(per_reference=True),
            ValueError,
            "per_reference=True needs mode='reference' and reference_method='fitted'",
        ),
    ],
)
def test_per_reference_option_errors(kwargs, error, match):
    flow = small_flow()
    with pytest.raises(error, match=match):
        NAFlowTransform(flow, mode="reference", reference=reference_pair(flow), **kwargs)
    with pytest.raises(error, match=match):
        NAFlowTransform(flow, **kwargs)
