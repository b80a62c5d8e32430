"""Flow layers' specific behaviour; the layer contract (exact inverse, log-det against autograd) over random
shapes is in test_flow_properties.py."""

import pytest
import torch

from noiseaug.errors import NoiseaugInputError
from noiseaug.flows.layers import ActNorm, AffineInjector, FlowCondition, Gain, InvConv1x1, SignalDependent, Squeeze
from noiseaug.flows.official import OfficialSignalDependent

C = 4


def test_actnorm_data_dependent_initialisation_standardises_first_batch(gen):
    layer = ActNorm(C).double().train()
    x = 3 + 5 * torch.randn(8, C, 6, 6, generator=gen, dtype=torch.float64)
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(C, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(
        y.std(dim=(0, 2, 3), unbiased=False), torch.ones(C, dtype=torch.float64), atol=1e-6, rtol=0
    )
    before = layer.bias.clone()
    layer(x + 10)
    assert torch.equal(layer.bias, before)  # initialised once only


def test_signal_dependent_layer_starts_near_identity_and_is_positive():
    layer = SignalDependent(num_cameras=2, num_isos=2)
    cond = FlowCondition(clean=torch.rand(2, 4, 3, 3), camera=torch.tensor([0, 1]), iso_index=torch.tensor([1, 0]))
    scale = layer.scale(cond)
    assert (scale > 0).all() and (scale - 1).abs().max() < 1e-3


def test_signal_dependent_betas_are_camera_and_iso_specific():
    layer = SignalDependent(num_cameras=2, num_isos=2)
    with torch.no_grad():
        layer.log_beta1.copy_(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    cond = FlowCondition(
        clean=torch.zeros(3, 4, 1, 1), camera=torch.tensor([0, 1, 1]), iso_index=torch.tensor([1, 0, 1])
    )
    torch.testing.assert_close(layer.betas(cond)[0], torch.tensor([1.0, 2.0, 3.0]).exp())


def test_gain_layer_is_camera_and_iso_specific():
    layer = Gain([100.0, 800.0], num_cameras=2)
    cond = FlowCondition(iso=torch.tensor([100.0, 800.0]), iso_index=torch.tensor([0, 1]), camera=torch.tensor([0, 1]))
    torch.testing.assert_close(layer.gamma(cond).flatten(), torch.ones(2))  # gamma starts at 1
    with torch.no_grad():
        layer.log_psi[1] = 1.0
    gamma = layer.gamma(cond).flatten()
    assert gamma[0].item() == pytest.approx(1.0) and gamma[1].item() == pytest.approx(torch.e, rel=1e-5)


def test_squeeze_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even height and width"):
        Squeeze()(torch.zeros(1, 4, 5, 4))


def test_invconv_is_initialised_as_a_rotation():
    w = InvConv1x1(6, seed=0).weight()
    torch.testing.assert_close(w @ w.T, torch.eye(6), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "layer, cond, missing",
    [
        (SignalDependent(), None, "clean"),
        (Gain([100.0]), FlowCondition(iso=torch.tensor([100.0])), "iso_index"),
        (Gain([100.0]), FlowCondition(iso_index=torch.tensor([0])), "iso"),
        (AffineInjector(C, cond_channels=2, hidden=3), FlowCondition(clean=torch.rand(1, C, 2, 2)), "features"),
        (OfficialSignalDependent(num_cameras=1, num_isos=1), FlowCondition(clean=torch.rand(1, C, 2, 2)), "iso"),
    ],
)
def test_a_conditional_layer_names_the_condition_field_it_lacks(layer, cond, missing):
    x = torch.zeros(1, C, 2, 2)
    for call in (lambda: layer(x, cond), lambda: layer.inverse(x, cond)):
        with pytest.raises(NoiseaugInputError, match=f"FlowCondition.{missing}"):
            call()
