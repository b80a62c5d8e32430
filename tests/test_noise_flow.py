"""NoiseFlow: architecture, conditioning, the NLF-only variant against its closed form, learning on the simulator."""

import math

import pytest
import torch

from noiseaug import NoiseCondition
from noiseaug.data import SimulatedCamera, SimulatedRawPairs
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.noise import HeteroscedasticGaussianNoise
from noiseaug.training import SupervisedNLL, TrainConfig, Trainer, evaluate_noise_model, validation

CAMERAS = ["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"]
ISOS = [100, 400, 800, 1600, 3200]


def test_paper_architecture_is_small():
    flow = NoiseFlow(CAMERAS, ISOS)
    assert sum(p.numel() for p in flow.parameters()) < 3000
    names = [type(layer).__name__ for layer in flow.layers]
    assert names == ["SignalDependent"] + ["FlowStep"] * 4 + ["Gain"] + ["FlowStep"] * 4
    assert [type(layer).__name__ for layer in NoiseFlow(CAMERAS, ISOS, variant="nlf").layers] == [
        "SignalDependent",
        "Gain",
    ]


def test_nlf_variant_is_the_heteroscedastic_gaussian_with_gain(gen):
    flow = NoiseFlow(["a", "b"], [100, 800], variant="nlf").double()
    with torch.no_grad():
        # sample 0: camera 1 at ISO 100 (index 0); sample 1: camera 0 at ISO 800 (index 1)
        flow.layers[0].log_beta1[1, 0] = math.log(5e-3)
        flow.layers[0].log_beta2[1, 0] = math.log(3e-4)
        flow.layers[0].log_beta1[0, 1] = math.log(2e-3)
        flow.layers[0].log_beta2[0, 1] = math.log(1e-4)
        flow.layers[1].log_psi.copy_(torch.tensor([0.2, -0.1]))
    cond = NoiseCondition(iso=torch.tensor([100.0, 800.0]), camera=torch.tensor([1, 0]))
    clean = torch.rand(2, 4, 6, 6, generator=gen, dtype=torch.float64)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    beta1 = torch.tensor([5e-3, 2e-3], dtype=torch.float64)
    beta2 = torch.tensor([3e-4, 1e-4], dtype=torch.float64)
    # gamma starts at psi * (1/iso) * iso = exp(log_psi)
    gamma2 = torch.exp(2 * torch.tensor([-0.1, 0.2], dtype=torch.float64))
    expected = HeteroscedasticGaussianNoise(gamma2 * beta1, gamma2 * beta2).nll(noisy, clean)
    torch.testing.assert_close(flow.nll(noisy, clean, cond), expected)


def test_a_batch_may_mix_cameras_and_isos_and_rows_are_independent(gen):
    flow = NoiseFlow(CAMERAS, ISOS).eval()
    clean = torch.rand(3, 4, 8, 8, generator=gen)
    noisy = clean + 0.01 * torch.randn(clean.shape, generator=gen)
    cond = NoiseCondition(iso=torch.tensor([100.0, 3200.0, 800.0]), camera=torch.tensor([4, 0, 2]))
    together = flow.nll(noisy, clean, cond)
    alone = torch.stack(
        [flow.nll(noisy[i : i + 1], clean[i : i + 1], cond.index(torch.tensor([i])))[0] for i in range(3)]
    )
    torch.testing.assert_close(together, alone)


def test_sampling_inverts_the_likelihood_path_and_is_seeded(gen):
    flow = NoiseFlow(CAMERAS, ISOS).double().eval()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    clean = torch.rand(2, 4, 8, 8, generator=gen, dtype=torch.float64)
    cond = NoiseCondition(iso=torch.tensor([400.0, 1600.0]), camera=torch.tensor([1, 3]))
    z = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    fc = flow.flow_condition(clean, cond)
    torch.testing.assert_close(flow.encode(flow.decode(z, fc), fc)[0], z, atol=1e-8, rtol=0)
    a = flow.sample(clean, cond, generator=torch.Generator().manual_seed(3))
    b = flow.sample(clean, cond, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    cold = flow.sample(clean, cond, generator=torch.Generator().manual_seed(3), temperature=0.5)
    assert (cold - flow.sample(clean, cond, temperature=0.0)).abs().mean() < (
        a - flow.sample(clean, cond, temperature=0.0)
    ).abs().mean()


@pytest.mark.parametrize(
    "cond, match",
    [
        (None, "NoiseFlow needs cond"),
        (
            NoiseCondition(iso=torch.tensor([200.0]), camera=torch.tensor([0])),
            r"unknown ISO \[200.0\]; this model knows ISO",
        ),
        (NoiseCondition(iso=torch.tensor([100.0]), camera=torch.tensor([7])), "cond.camera must hold integer indices"),
        (
            NoiseCondition(iso=torch.tensor([100.0, 100.0]), camera=torch.tensor([0, 0])),
            "cond has 2 entries but the batch has 1",
        ),
    ],
)
def test_bad_conditions_are_named_errors(cond, match):
    flow = NoiseFlow(CAMERAS, ISOS)
    clean = torch.rand(1, 4, 4, 4)
    with pytest.raises(ValueError, match=match):
        flow.nll(clean, clean, cond)


def test_wrong_channel_count_is_an_error():
    with pytest.raises(ValueError, match="clean must have 4 channels"):
        NoiseFlow(CAMERAS, ISOS).sample(torch.rand(1, 3, 4, 4))


@pytest.mark.slow
def test_supervised_training_on_the_simulator_beats_its_start(tmp_path):
    torch.manual_seed(0)
    images = [
        torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
        for i in range(4)
    ]
    camera = SimulatedCamera()
    train = SimulatedRawPairs(images, camera, patch_size=16, batch_size=8, seed=0)
    val = [
        SimulatedRawPairs(images, camera, patch_size=16, batch_size=16, seed=1, balanced=True).batch(k)
        for k in range(2)
    ]
    flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos])
    flow.train()
    flow.nll(val[0].noisy_raw[0], val[0].clean_raw, val[0].cond)  # ActNorm data-dependent init
    before = evaluate_noise_model(flow.eval(), val)["val_nll"]
    trainer = Trainer(
        SupervisedNLL(flow),
        train,
        validation(flow, val),
        tmp_path,
        TrainConfig(steps=60, lr=3e-3, val_every=60),
        progress=False,
    )
    state = trainer.fit()
    assert state.history[-1]["val_nll"] < before - 0.1
