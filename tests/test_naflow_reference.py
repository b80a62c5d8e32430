"""NAFlow's reference paths: the tempered posterior of noise-aware sampling, the fitted latent, the paper's encoder."""

import pytest
import torch
import torch.nn.functional as F
from flow_helpers import trained_looking

from noiseaug import NAFlow, NoiseCondition
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
    noisy = flow._sample_gaussian(clean, mean.expand(4, -1), std.expand(4, -1), g, 1.0)
    fitted_mean, fitted_std = flow.fit_latent(noisy, clean, match_std=False)  # the maximum-likelihood fit alone
    assert float((fitted_std / std - 1).abs().max()) < 0.25 and float((fitted_std / std).mean()) == pytest.approx(
        1, abs=0.03
    )
    assert float((fitted_mean - mean).abs().max()) < 1.5  # 4 std errors of a 256-sample mean
    nas_std = flow.mixture(flow.posterior(noisy, clean))[1]
    assert float(nas_std.detach().max()) < 0.7 * float(fitted_std.min())  # no mixture reaches it
    again = flow.sample_fitted(clean, noisy, clean, torch.Generator().manual_seed(2))
    assert float((again - clean).std() / (noisy - clean).std()) == pytest.approx(1, abs=0.1)


def test_matching_the_std_reproduces_a_louder_reference_closer_than_the_diagonal_fit():
    flow = small_flow()
    g = torch.Generator().manual_seed(3)
    clean = torch.rand(2, 3, 32, 32, generator=g) * 0.6 + 0.2
    with torch.no_grad():
        sample = flow._sample_gaussian(clean, flow.means[2].expand(2, -1), flow.log_stds[2].exp().expand(2, -1), g, 1.0)
    noisy = clean + 3 * (sample - clean)  # three times a configuration's noise: louder than any
    errors = {}
    for match in (False, True):
        mean, std = flow.fit_latent(noisy, clean, match)
        with torch.no_grad():
            flow_noisy = flow._sample_gaussian(
                clean, mean.expand(2, -1), std.expand(2, -1), torch.Generator().manual_seed(4), 1.0
            )
        errors[match] = abs(float((flow_noisy - clean).std() / (noisy - clean).std()) - 1)
    assert errors[True] < 0.03 and errors[True] < errors[False]


def test_transform_reference_methods():
    flow = small_flow()
    noisy, clean = reference_pair(flow)
    nas = NAFlowTransform(flow, mode="reference", reference=(noisy, clean), posterior_temperature=0.5)
    torch.testing.assert_close(nas.reference_weights, flow.posterior(noisy, clean, 0.5).mean(0))
    fitted = NAFlowTransform(flow, mode="reference", reference_method="fitted", reference=(noisy, clean), clip=False)
    expected_mean, expected_std = flow.fit_latent(noisy, clean)
    torch.testing.assert_close(fitted.reference_std, expected_std)
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
