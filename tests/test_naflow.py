"""NAFlow: the configuration Gaussians, classification, noise-aware sampling, I/O."""

import math

import pytest
import torch
from flow_helpers import trained_looking

from noiseaug import NAFlow, NoiseCondition
from noiseaug.hub import load_folder, save_pretrained
from noiseaug.objectives.naflow import NAFlowNLL, configuration_free_nll
from noiseaug.training.loop import TrainConfig, Trainer

CONFIGS = ["cam-a-iso100", "cam-a-iso3200", "cam-b-iso800"]


def small_flow(seed=0, **kwargs):
    return trained_looking(NAFlow, CONFIGS, seed=seed, hidden=8, features=4, **{"levels": 2, **kwargs})


def test_paper_widths_give_about_a_million_parameters():
    n = sum(p.numel() for p in NAFlow(CONFIGS, hidden=32, features=16).parameters())
    assert 0.5e6 < n < 1.5e6
    assert NAFlow(CONFIGS).latent_channels == 3 * 4**3


def test_all_configuration_likelihoods_match_the_per_sample_path(gen):
    flow = small_flow()
    clean = torch.rand(3, 3, 8, 8, generator=gen)
    noisy = clean + 0.05 * torch.randn(3, 3, 8, 8, generator=gen)
    z, logdet = flow.encode(noisy - clean, clean)
    table = flow.latent_log_prob(z) + logdet.double()[:, None]
    for c in range(len(CONFIGS)):
        direct = flow.log_prob(noisy, clean, NoiseCondition(config=torch.full((3,), c)))
        torch.testing.assert_close(table[:, c].float(), direct, rtol=1e-5, atol=1e-3)
    posterior = flow.classify(noisy, clean)
    torch.testing.assert_close(posterior, table.softmax(1).float())
    free = configuration_free_nll(flow, noisy, clean)
    expected = -(torch.logsumexp(table, 1) - math.log(len(CONFIGS))) / (3 * 8 * 8)
    torch.testing.assert_close(free, expected.float())


def test_one_hot_mixture_is_the_named_configuration_and_temperature_zero_is_deterministic(gen):
    flow = small_flow()
    clean = torch.rand(2, 3, 8, 8, generator=gen)
    cond = NoiseCondition(config=torch.tensor([2, 0]))
    named = flow.sample(clean, cond, torch.Generator().manual_seed(5))
    weights = torch.nn.functional.one_hot(cond.config, 3).float()
    torch.testing.assert_close(flow.sample_mixture(clean, weights, torch.Generator().manual_seed(5)), named)
    cold = [flow.sample(clean, cond, torch.Generator().manual_seed(s), temperature=0.0) for s in (1, 2)]
    torch.testing.assert_close(cold[0], cold[1])
    z_mean = flow.means[cond.config][:, :, None, None].expand(2, 48, 2, 2)
    torch.testing.assert_close(cold[0], clean + flow.decode(z_mean, clean))


def test_mixture_mixes_means_and_covariances():
    flow = small_flow()
    w = torch.tensor([[1.0, 3.0, 0.0]])
    mean, std = flow.mixture(w)
    torch.testing.assert_close(mean[0], 0.25 * flow.means[0] + 0.75 * flow.means[1])
    torch.testing.assert_close(
        std[0].square(), 0.25 * (2 * flow.log_stds[0]).exp() + 0.75 * (2 * flow.log_stds[1]).exp()
    )
    with pytest.raises(ValueError, match=r"weights must be \(B, 3\)"):
        flow.mixture(torch.ones(1, 2))
    with pytest.raises(ValueError, match="non-negative"):
        flow.mixture(torch.tensor([[1.0, -1.0, 0.0]]))


@pytest.mark.parametrize(
    "cond, match",
    [
        (None, "needs cond=NoiseCondition"),
        (NoiseCondition(iso=torch.tensor([100.0, 100.0])), "needs cond=NoiseCondition"),
        (NoiseCondition(config=torch.tensor([0, 3])), r"integer indices into \['cam-a-iso100'"),
        (NoiseCondition(config=torch.tensor([0.0, 1.0])), "integer indices"),
        (NoiseCondition(config=torch.tensor([0])), "cond has 1 entries but the batch has 2"),
    ],
)
def test_bad_conditions_are_named_errors(cond, match):
    with pytest.raises(ValueError, match=match):
        small_flow().sample(torch.rand(2, 3, 8, 8), cond)


def test_sizes_and_architecture_arguments_are_checked():
    with pytest.raises(ValueError, match=r"divisible by 4, got \(8, 6\)"):
        small_flow().sample(torch.rand(1, 3, 8, 6), NoiseCondition(config=torch.tensor([0])))
    with pytest.raises(ValueError, match="distinct names"):
        NAFlow(["a", "a"])
    with pytest.raises(ValueError, match="levels must be a positive int"):
        NAFlow(["a"], levels=0)
    with pytest.raises(ValueError, match="at least 4x4"):
        small_flow().classify(torch.rand(1, 3, 3, 8), torch.rand(1, 3, 3, 8))


def test_save_and_load_round_trip(tmp_path, gen):
    flow = small_flow(seed=3)
    save_pretrained(flow, tmp_path / "m")
    loaded = load_folder(tmp_path / "m")
    assert isinstance(loaded, NAFlow) and loaded.config == flow.config
    clean = torch.rand(1, 3, 8, 8, generator=gen)
    noisy = clean + 0.05 * torch.randn(1, 3, 8, 8, generator=gen)
    torch.testing.assert_close(loaded.classify(noisy, clean), flow.classify(noisy, clean))


class TwoLevelNoise:
    """Gaussian noise with std 0.02 for configuration 0 and 0.08 for configuration 1."""

    stds = torch.tensor([0.02, 0.08])

    def batch(self, step):
        g = torch.Generator().manual_seed(step)
        clean = torch.rand(8, 3, 8, 8, generator=g)
        config = torch.arange(8) % 2
        noisy = clean + self.stds[config].view(-1, 1, 1, 1) * torch.randn(8, 3, 8, 8, generator=g)
        return {"noisy": noisy, "clean": clean, "config": config}


@pytest.mark.slow
def test_training_learns_each_configuration_and_classifies_it(tmp_path):
    torch.manual_seed(0)
    flow = NAFlow(["quiet", "loud"], levels=1, blocks=1, hidden=8, features=4)
    data = TwoLevelNoise()
    val = data.batch(20_000)

    def validate():
        return {"val_nll": float(configuration_free_nll(flow, val["noisy"], val["clean"]).mean())}

    Trainer(
        NAFlowNLL(flow), data, validate, tmp_path, TrainConfig(steps=300, lr=5e-3, val_every=300), progress=False
    ).run()
    flow.eval()
    held_out = data.batch(10_000)
    posterior = flow.classify(held_out["noisy"], held_out["clean"])
    assert bool((posterior.argmax(1) == held_out["config"]).all())
    clean = torch.full((2, 3, 32, 32), 0.5)
    noise = flow.sample(clean, NoiseCondition(config=torch.tensor([0, 1])), torch.Generator().manual_seed(0)) - clean
    stds = noise.flatten(1).std(1)
    torch.testing.assert_close(stds, TwoLevelNoise.stds, rtol=0.25, atol=0)
    like_loud = (
        flow.sample_noise_aware(clean, held_out["noisy"][1:2], held_out["clean"][1:2], torch.Generator().manual_seed(1))
        - clean
    )
    torch.testing.assert_close(like_loud.flatten(1).std(1), TwoLevelNoise.stds[[1, 1]], rtol=0.25, atol=0)


def test_configs_saved_without_scale_floor_load_as_glows_unfloored_scale(tmp_path):
    import json

    save_pretrained(NAFlow(["a-iso100"], hidden=4, features=2, scale_floor=0.0), tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["scale_floor"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    assert load_folder(tmp_path / "old").scale_floor == 0.0
    assert NAFlow(["a-iso100"], hidden=4, features=2).scale_floor == 0.5


def test_a_floored_coupling_amplifies_at_most_one_over_the_floor_when_inverted():
    from noiseaug.flows.layers import AffineCoupling

    layer = AffineCoupling(4, hidden=8, scale_floor=0.5)
    torch.nn.init.normal_(layer.net[-1].weight, std=5.0)  # scales driven towards 0 (sigmoid of very negative)
    torch.nn.init.constant_(layer.net[-1].bias, -20.0)
    y = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    layer = layer.double()
    x = layer.inverse(y)
    _, shift = layer._scale_shift(y[:, :2], None)
    assert ((x[:, 2:] + shift).abs() / y[:, 2:].abs()).max().item() <= 2.0 + 1e-9
    torch.testing.assert_close(layer(x)[0], y)
    with pytest.raises(ValueError, match="scale_floor"):
        AffineCoupling(4, hidden=8, scale_floor=1.0)
