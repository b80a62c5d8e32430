"""NoiseFlow(variant="official"): the authors' parameterisation, checked against its formulas on random weights.

The comparison with the authors' own outputs on their released weights is in test_official_weights.py.
"""

import math

import pytest
import torch
from flow_helpers import trained_looking_flow

from noiseaug import NoiseCondition, NoiseFlowTransform
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.flows.official import (
    FrozenBatchNorm2d,
    OfficialConv1x1,
    OfficialCoupling,
    OfficialSignalDependent,
    ScalarGain,
)

CAMERAS = ["IP", "GP", "S6", "N6", "G4"]
ISOS = [100, 400, 800, 1600, 3200]
LAYOUTS = [
    dict(conv_layout="row", bn_affine=False, bn_eps=1e-4),
    dict(conv_layout="column", bn_affine=True, bn_eps=1e-5),
]


def official_flow(seed=0, **settings):
    flow = trained_looking_flow(CAMERAS, ISOS, seed=seed, variant="official", **settings)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for m in flow.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
    return flow


def batch(gen, n=5, size=12):
    clean = 0.05 + 0.9 * torch.rand(n, 4, size, size, generator=gen)
    noisy = clean + 0.02 * torch.randn(clean.shape, generator=gen)
    cond = NoiseCondition(iso=torch.tensor([100.0, 400.0, 800.0, 1600.0, 3200.0][:n]), camera=torch.arange(n) % 5)
    return clean, noisy, cond


def test_architecture_is_the_authors():
    flow = NoiseFlow(CAMERAS, ISOS, variant="official")
    names = [type(layer).__name__ for layer in flow.layers]
    assert (
        names
        == ["OfficialSignalDependent"]
        + ["OfficialConv1x1", "OfficialCoupling"] * 4
        + ["ScalarGain"]
        + ["OfficialConv1x1", "OfficialCoupling"] * 4
    )
    assert flow.hidden == 4 and not any(type(m).__name__ == "ActNorm" for m in flow.modules())
    assert flow.config == {
        "model_type": "noiseflow",
        "cameras": CAMERAS,
        "iso_levels": [float(i) for i in ISOS],
        "hidden": 4,
        "steps": 4,
        "variant": "official",
        "conv_layout": "row",
        "bn_affine": False,
        "bn_eps": 1e-4,
        "channel_order": [[0, 0], [0, 1], [1, 1], [1, 0]],
    }
    # the authors' TF model: 2,433 trainable numbers; here L and U are stored as full 4x4 matrices (20 more per conv)
    assert sum(p.numel() for p in flow.parameters()) == 2433 - 2 + 8 * 20  # less the two unused TF scalars


def test_default_variants_keep_their_config():
    assert NoiseFlow(CAMERAS, ISOS).config == {
        "model_type": "noiseflow",
        "cameras": CAMERAS,
        "iso_levels": [float(i) for i in ISOS],
        "hidden": 5,
        "steps": 4,
        "variant": "full",
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(variant="full", conv_layout="row"), "only for variant='official'"),
        (dict(variant="nlf", bn_eps=1e-4), "only for variant='official'"),
        (dict(variant="official", conv_layout="diagonal"), "conv_layout"),
        (dict(variant="official", bn_affine=1), "bn_affine"),
        (dict(variant="official", bn_eps=0.0), "bn_eps"),
        (dict(variant="official", channel_order=[[0, 0], [0, 1], [1, 1], [1, 1]]), "channel_order"),
        (dict(variant="glow"), "variant"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        NoiseFlow(CAMERAS, ISOS, **kwargs)


def test_signal_dependent_layer_follows_the_formula(gen):
    layer = OfficialSignalDependent(5, 5)
    with torch.no_grad():
        layer.beta1.fill_(-4.3)
        layer.beta2.fill_(-0.3)
        layer.cam_params.copy_(torch.rand(3, 5, generator=gen))
        layer.gain_params.copy_(-3 - torch.rand(5, generator=gen))
    from noiseaug.flows.layers import FlowCondition

    clean = torch.rand(2, 4, 3, 3, generator=gen, dtype=torch.float64)
    fc = FlowCondition(
        clean=clean, iso=torch.tensor([800.0, 100.0]), iso_index=torch.tensor([2, 0]), camera=torch.tensor([4, 1])
    )
    c, g = layer.cam_params.detach().double(), layer.gain_params.detach().double()
    for i, (m, q, k) in enumerate([(4, 800.0, 2), (1, 100.0, 0)]):
        gain = math.exp(float(g[k]) * math.exp(float(c[2, m]))) * q
        beta1, beta2 = math.exp(-4.3 * math.exp(float(c[0, m]))), math.exp(-0.3 * math.exp(float(c[1, m])))
        expected = (beta1 * clean[i] / gain + beta2).sqrt()
        torch.testing.assert_close(layer.scale(fc, torch.float64)[i], expected, rtol=1e-6, atol=0)
    x = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    y, logdet = layer(x, fc)
    torch.testing.assert_close(layer.inverse(y, fc), x)
    torch.testing.assert_close(logdet, -layer.scale(fc, torch.float64).log().flatten(1).sum(1))


@pytest.mark.parametrize("row", [True, False])
def test_lu_conv_layouts(gen, row):
    conv = OfficialConv1x1(4, row_vector=row, seed=3).double()
    with torch.no_grad():
        conv.lower.add_(torch.randn(4, 4, generator=gen, dtype=torch.float64))
        conv.upper.add_(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    m = (
        conv.permutation
        @ (torch.tril(conv.lower, -1) + torch.eye(4, dtype=torch.float64))
        @ (torch.triu(conv.upper, 1) + torch.diag(conv.sign_s * conv.log_s.exp()))
    )
    x = torch.randn(2, 4, 3, 5, generator=gen, dtype=torch.float64)
    y, logdet = conv(x)
    pixels = x.permute(0, 2, 3, 1)
    expected = (pixels @ m) if row else (pixels @ m.T)  # row: z = n M; column: z = M n
    torch.testing.assert_close(y.permute(0, 2, 3, 1), expected)
    torch.testing.assert_close(logdet, torch.full((2,), 15 * float(conv.log_s.detach().sum()), dtype=torch.float64))
    torch.testing.assert_close(conv.inverse(y), x)


@pytest.mark.parametrize("affine, eps", [(False, 1e-4), (True, 1e-5)])
def test_frozen_batch_norm_uses_stored_statistics_in_train_mode_too(gen, affine, eps):
    bn = FrozenBatchNorm2d(4, affine, eps)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
        bn.running_var.copy_(torch.tensor([0.5, 1.0, 2.0, 1e-3]))
        if affine:
            bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
            bn.bias.copy_(torch.tensor([0.0, 0.1, 0.2, 0.3]))
    reference = torch.nn.BatchNorm2d(4, eps=eps, affine=affine).eval()
    reference.load_state_dict({**bn.state_dict(), "num_batches_tracked": torch.tensor(0)}, strict=True)
    h = torch.randn(3, 4, 5, 5, generator=gen)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    for mode in (False, True):
        bn.train(mode)
        torch.testing.assert_close(bn(h), reference(h))
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())


def test_coupling_sees_the_image_border_through_its_ring_channel(gen):
    coupling = OfficialCoupling(4, 4, bn_affine=False, bn_eps=1e-4)
    with torch.no_grad():
        coupling.conv3.weight.zero_()
        coupling.conv3.weight[:, 4, 1, 1] = 1.0  # only the ring channel, centre tap
        coupling.rescale.fill_(0.5)
    x = torch.randn(1, 4, 6, 6, generator=gen)
    shift, log_scale = coupling.shift_and_log_scale(x[:, :2])
    assert bool((shift == 0).all()) and bool((log_scale == 0).all())  # the ring is 0 inside the padded map
    with torch.no_grad():
        coupling.conv3.weight[:, 4, 0, 1] = 1.0  # reaches one row up: the ring shows on the top row only
    shift, _ = coupling.shift_and_log_scale(x[:, :2])
    assert bool((shift[0, :, 0] == 1).all()) and bool((shift[0, :, 1:] == 0).all())


@pytest.mark.parametrize("settings", LAYOUTS)
def test_sampling_inverts_the_likelihood_path(gen, settings):
    flow = official_flow(**settings).double()
    clean, noisy, cond = batch(gen)
    clean, noisy = clean.double(), noisy.double()
    fc = flow.flow_condition(clean, cond)
    with torch.no_grad():
        z, logdet = flow.encode(noisy - clean, fc)
        torch.testing.assert_close(flow.decode(z, fc), noisy - clean)
        lp = flow.log_prob(noisy, clean, cond)
    torch.testing.assert_close(lp, -0.5 * (math.log(2 * math.pi) + z.square()).flatten(1).sum(1) + logdet)


def test_log_det_matches_autograd_jacobian(gen):
    flow = official_flow(**LAYOUTS[1]).double()
    clean = 0.1 + 0.8 * torch.rand(1, 4, 3, 3, generator=gen, dtype=torch.float64)
    cond = NoiseCondition(iso=torch.tensor([1600.0]), camera=torch.tensor([3]))
    fc = flow.flow_condition(clean, cond)
    noise = 0.02 * torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda n: flow.encode(n.view(1, 4, 3, 3), fc)[0].flatten(), noise.flatten(), vectorize=True
    )
    _, logdet = flow.encode(noise, fc)
    torch.testing.assert_close(logdet[0], torch.linalg.slogdet(jac)[1])


def test_channel_order_is_a_permutation_of_the_weights_inputs(gen):
    """A model whose weights expect the authors' order equals the same weights on inputs permuted by hand."""
    flow = official_flow()
    plain = NoiseFlow(CAMERAS, ISOS, variant="official", channel_order=[[0, 0], [0, 1], [1, 0], [1, 1]])
    plain.load_state_dict(flow.state_dict())
    clean, noisy, cond = batch(gen)
    perm = [0, 1, 3, 2]
    with torch.no_grad():
        torch.testing.assert_close(
            flow.log_prob(noisy, clean, cond), plain.log_prob(noisy[:, perm], clean[:, perm], cond)
        )
        a = flow.sample(clean, cond, torch.Generator().manual_seed(1))
        b = plain.sample(clean[:, perm], cond, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a[:, perm] - clean[:, perm], b - clean[:, perm])


@pytest.mark.parametrize("settings", LAYOUTS)
def test_a_mixed_batch_equals_one_sample_per_call(gen, settings):
    flow = official_flow(**settings)
    clean, noisy, cond = batch(gen)
    z = torch.randn(clean.shape, generator=gen)
    with torch.no_grad():
        together = flow.log_prob(noisy, clean, cond)
        decoded = flow.decode(z, flow.flow_condition(clean, cond))
        for i in range(5):
            one = cond.index(torch.tensor([i]))
            torch.testing.assert_close(
                flow.log_prob(noisy[i : i + 1], clean[i : i + 1], one)[0], together[i], rtol=1e-6, atol=1e-3
            )
            torch.testing.assert_close(
                flow.decode(z[i : i + 1], flow.flow_condition(clean[i : i + 1], one))[0],
                decoded[i],
                rtol=1e-6,
                atol=1e-6,
            )


def test_tiled_sampling_equals_whole_image_sampling(gen):
    flow = official_flow().double()
    clean = torch.rand(2, 4, 48, 48, generator=gen, dtype=torch.float64)
    cond = NoiseCondition(iso=torch.tensor([3200.0, 100.0]), camera=torch.tensor([4, 0]))
    with torch.no_grad():
        whole = flow.sample(clean, cond, torch.Generator().manual_seed(5))
        flow.max_pixels = 44 * 44  # one image at a time, in 16 cores of 12 pixels with 16 of context
        tiled = flow.sample(clean, cond, torch.Generator().manual_seed(5))
    assert flow.tile_overlap == 16
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-12)


def test_hub_round_trip_and_transform(tmp_path, gen):
    flow = official_flow(**LAYOUTS[1])
    flow.save_pretrained(tmp_path / "m")
    again = NoiseFlow.from_pretrained(tmp_path / "m")
    assert again.config == flow.config
    clean, noisy, cond = batch(gen)
    with torch.no_grad():
        torch.testing.assert_close(again.log_prob(noisy, clean, cond), flow.log_prob(noisy, clean, cond))
    transform = NoiseFlowTransform.from_pretrained(tmp_path / "m", cameras=["S6", "G4"], isos=[800, 3200])
    out = transform(torch.rand(6, 1, 32, 32, generator=gen), generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 1, 32, 32) and bool(torch.isfinite(out).all())


def test_scalar_gain_layer(gen):
    layer = ScalarGain(1.25)
    x = torch.randn(2, 4, 3, 3, generator=gen)
    y, logdet = layer(x)
    torch.testing.assert_close(y, x / 1.25)
    torch.testing.assert_close(logdet, torch.full((2,), -36 * math.log(1.25)))
    torch.testing.assert_close(layer.inverse(y), x)
