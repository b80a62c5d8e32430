"""The parameter step of every transform: generate_parameters -> NoiseParams -> apply_transform, and replays."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from flow_helpers import trained_looking, trained_looking_flow
from test_device_path import HostReads

from noiseaug import NoiseCondition
from noiseaug.errors import NoiseaugInputError, NoiseaugTypeError
from noiseaug.flows.naflow import NAFlow
from noiseaug.imageio import write_png
from noiseaug.synthesize import describe_draw, image_seed, synthesize_folder
from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseFlowTransform,
    NoiseParams,
    PoissonGaussianNoiseTransform,
)
from noiseaug.transforms.raw_route import RawRouteTransform


def noiseflow(**kwargs) -> NoiseFlowTransform:
    return NoiseFlowTransform(trained_looking_flow(["cam0", "cam1"], [100, 800, 3200]), **kwargs)


def naflow(**kwargs) -> NAFlowTransform:
    flow = trained_looking(NAFlow, ["a-iso100", "b-iso800", "c-iso3200"], levels=2, blocks=1, hidden=8, features=4)
    return NAFlowTransform(flow, **kwargs)


def reference_pair():
    clean = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(7))
    return (clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(8))).clamp(0, 1), clean


def reference_bank():
    """Three reference pairs of different sizes and noise levels (``per_reference=True``)."""
    g = torch.Generator().manual_seed(9)
    clean = [torch.rand(3, h, w, generator=g) for h, w in ((8, 8), (12, 8), (8, 16))]
    noisy = [
        (c + s * torch.randn(c.shape, generator=g)).clamp(0, 1) for c, s in zip(clean, (0.02, 0.05, 0.1), strict=True)
    ]
    return noisy, clean


def every_family(p: float):
    """(name, transform, input shape, cond) for every transform family and NAFlow mode, built with ``p``."""
    return [
        ("awgn", GaussianNoiseTransform(sigma=(0.01, 0.2), p=p), (6, 3, 8, 8), None),
        ("nlf", HeteroscedasticNoiseTransform(p=p), (6, 3, 8, 8), None),
        ("pg", PoissonGaussianNoiseTransform(p=p), (6, 3, 8, 8), None),
        ("noiseflow", noiseflow(p=p), (6, 4, 8, 8), None),
        ("noiseflow mosaic", noiseflow(p=p), (6, 1, 16, 16), None),
        ("noiseflow cond", noiseflow(p=p), (6, 4, 8, 8), NoiseCondition(camera=torch.tensor([0, 1, 1, 0, 1, 0]))),
        ("naflow random", naflow(p=p), (6, 3, 12, 10), None),
        ("naflow mixture", naflow(mixture=True, p=p), (6, 3, 8, 8), None),
        (
            "naflow configuration",
            naflow(mode="configuration", p=p),
            (6, 3, 8, 8),
            NoiseCondition(config=torch.tensor([2, 0, 1, 1, 0, 2])),
        ),
        ("naflow nas", naflow(mode="reference", reference=reference_pair(), p=p), (6, 3, 8, 8), None),
        (
            "naflow fitted",
            naflow(mode="reference", reference=reference_pair(), reference_method="fitted", p=p),
            (6, 3, 8, 8),
            None,
        ),
        (
            "naflow fitted bank",
            naflow(mode="reference", reference=reference_bank(), reference_method="fitted", per_reference=True, p=p),
            (6, 3, 8, 8),
            None,
        ),
        ("raw route", RawRouteTransform(noiseflow(), p=p), (6, 3, 16, 16), None),
    ]


def images(shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


FAMILIES = [name for name, *_ in every_family(1.0)]


def family(name, p):
    return next((t, shape, cond) for n, t, shape, cond in every_family(p) if n == name)


@pytest.mark.parametrize("p", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("name", FAMILIES)
def test_forward_is_apply_of_generate_parameters_bit_for_bit(name, p):
    transform, shape, cond = family(name, p)
    x = images(shape)
    g_forward, g_steps = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected = transform(x, cond, generator=g_forward)
    params = transform.generate_parameters(x.shape, cond, g_steps)
    got = transform.apply_transform(x, params, g_steps)
    assert torch.equal(got, expected), name
    assert torch.equal(g_forward.get_state(), g_steps.get_state()), f"{name}: the two steps drew another amount"
    if p > 0:
        assert not torch.equal(got, x)


@pytest.mark.parametrize("name", FAMILIES)
def test_replay_gives_the_same_noise_on_a_second_batch_and_a_new_field_from_another_state(name):
    transform, shape, cond = family(name, 0.5)
    crop_a, crop_b = images(shape, 1), images(shape, 2)
    g = torch.Generator().manual_seed(4)
    params = transform.generate_parameters(shape, cond, g)
    state = g.get_state()
    noisy_a = transform(crop_a, generator=g, params=params)
    g.set_state(state)
    noisy_b = transform(crop_b, generator=g, params=params)
    # crop_b noised by a fresh call from the same seed: the replay is exactly that draw
    assert torch.equal(noisy_b, transform(crop_b, cond, generator=torch.Generator().manual_seed(4))), name
    assert torch.equal(noisy_a, transform(crop_a, cond, generator=torch.Generator().manual_seed(4))), name
    other = transform(crop_b, generator=torch.Generator().manual_seed(99), params=params)
    rows = params.selected
    assert rows.any() and not rows.all()
    assert torch.equal(other[~rows], crop_b[~rows]) and torch.equal(noisy_b[~rows], crop_b[~rows])
    assert not torch.equal(other[rows], noisy_b[rows]), f"{name}: another generator state gave the same field"


def test_parametric_replay_adds_the_same_noise_to_two_crops():
    transform = GaussianNoiseTransform(sigma=(0.05, 0.1), clip=False)
    crop_a, crop_b = images((4, 3, 8, 8), 1), images((4, 3, 8, 8), 2)
    g = torch.Generator().manual_seed(0)
    params = transform.generate_parameters(crop_a.shape, generator=g)
    state = g.get_state()
    noise_a = transform(crop_a, generator=g, params=params) - crop_a
    g.set_state(state)
    noise_b = transform(crop_b, generator=g, params=params) - crop_b
    torch.testing.assert_close(noise_a, noise_b, rtol=0, atol=1e-6)
    # each image's noise has its own sigma
    ratio = noise_a.flatten(1).std(1) / params.draws["sigma"]
    torch.testing.assert_close(ratio, torch.ones(4), rtol=0.25, atol=0)


@pytest.mark.parametrize("name", FAMILIES)
def test_params_carry_the_spec_shapes_and_dtypes(name):
    transform, shape, cond = family(name, 0.5)
    params = transform.generate_parameters(shape, cond, torch.Generator().manual_seed(0))
    batch = shape[0]
    assert isinstance(params, NoiseParams) and params.transform == type(transform).__name__
    assert params.selected.dtype == torch.bool and params.selected.shape == (batch,) and params.gate == "mask"
    spec = transform.parameter_spec()
    assert spec and sorted(params.draws) == sorted(spec)
    for key, (dtype, row_shape) in spec.items():
        value = params.draws[key]
        assert value.shape == (batch, *row_shape), (name, key)
        assert value.dtype == dtype or (cond is not None and key in ("iso", "camera", "config")), (name, key)
    if transform.compute_selected_rows_only:  # flows draw the selected rows only; the others hold zeros
        assert torch.equal(params.selected_rows(), params.selected.nonzero().squeeze(1))
        for value in params.draws.values():
            assert not value[~params.selected].any()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.gate = "all"  # type: ignore[misc]


def test_what_each_family_draws():
    g = torch.Generator().manual_seed(0)
    nlf = HeteroscedasticNoiseTransform(beta1=(0.001, 0.002), beta2=0.0001).generate_parameters(
        (5, 3, 4, 4), generator=g
    )
    assert sorted(nlf.draws) == ["beta1", "beta2"] and nlf.gate == "all"
    assert ((nlf.draws["beta1"] >= 0.001) & (nlf.draws["beta1"] <= 0.002)).all()
    assert torch.equal(nlf.draws["beta2"], torch.full((5,), 0.0001))
    flow = noiseflow(isos=[800], cameras=["cam1"]).generate_parameters((3, 4, 4, 4), generator=g)
    assert torch.equal(flow.draws["iso"], torch.full((3,), 800.0, dtype=torch.float64))
    assert torch.equal(flow.draws["camera"], torch.ones(3, dtype=torch.long))
    mixture = naflow(mixture=True, configurations=["a-iso100", "c-iso3200"]).generate_parameters(
        (4, 3, 8, 8), generator=g
    )
    weights = mixture.draws["weights"]
    torch.testing.assert_close(weights.sum(1), torch.ones(4))
    assert not weights[:, 1].any() and (weights[:, [0, 2]] > 0).all()
    configuration = naflow(mode="configuration", configurations=["b-iso800"]).generate_parameters((2, 3, 8, 8))
    assert torch.equal(configuration.draws["config"], torch.ones(2, dtype=torch.long))
    route = RawRouteTransform(PoissonGaussianNoiseTransform()).generate_parameters((2, 3, 8, 6), generator=g)
    assert route.draws["rgb_to_cam"].shape == (2, 3, 3) and route.draws["gains"].shape == (2, 3)
    assert route.inner is not None and route.inner.transform == "PoissonGaussianNoiseTransform"
    assert sorted(route.inner.draws) == ["gain", "read_sigma"] and route.inner.selected.shape == (2,)


def test_p_zero_draws_nothing_and_p_one_reads_no_mask():
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    none = GaussianNoiseTransform(p=0.0).generate_parameters((3, 3, 4, 4), generator=g)
    assert none.gate == "none" and not none.selected.any() and torch.equal(g.get_state(), state)
    assert torch.equal(none.draws["sigma"], torch.zeros(3))
    route = RawRouteTransform(noiseflow(), p=0.0).generate_parameters((2, 3, 8, 8), generator=g)
    assert route.gate == "none" and route.inner is not None and route.inner.gate == "none"
    assert torch.equal(g.get_state(), state)
    every = GaussianNoiseTransform().generate_parameters((3, 3, 4, 4), generator=g)
    assert every.gate == "all" and every.selected.all()


def test_a_given_mask_is_the_p_gate_and_the_selected_rows_only_are_noised():
    x = images((5, 4, 8, 8))
    mask = torch.tensor([True, False, False, True, False])
    for transform in (noiseflow(), PoissonGaussianNoiseTransform()):
        g = torch.Generator().manual_seed(1)
        params = transform.generate_parameters(x.shape, generator=g, selected=mask)
        assert torch.equal(params.selected, mask) and params.gate == "mask"
        y = transform(x, generator=g, params=params)
        assert torch.equal(y[~mask], x[~mask]) and not torch.equal(y[mask], x[mask])
    # an edited mask is honoured: any rows for cheap noise, a subset of the drawn rows for a flow (the others hold
    # no parameters); a flow's gathered rows follow the new mask
    for transform in (GaussianNoiseTransform(sigma=0.1, p=0.5), noiseflow(p=0.5)):
        x = images((6, 4, 8, 8))[:, : 4 if transform.compute_selected_rows_only else 3]
        params = transform.generate_parameters(x.shape, generator=torch.Generator().manual_seed(2))
        drawn = params.selected_rows()
        assert drawn.numel() >= 2
        mask = ~params.selected if not transform.compute_selected_rows_only else params.selected.clone()
        if transform.compute_selected_rows_only:
            mask[drawn[0]] = False
        y = transform(x, generator=torch.Generator().manual_seed(0), params=dataclasses.replace(params, selected=mask))
        assert torch.equal(y[~mask], x[~mask])
        assert (y[mask] != x[mask]).flatten(1).any(1).all()


def test_wrong_params_are_rejected_at_the_boundary():
    transform = GaussianNoiseTransform(p=0.5)
    x = images((4, 3, 8, 8))
    params = transform.generate_parameters(x.shape, generator=torch.Generator().manual_seed(0))
    with pytest.raises(NoiseaugInputError, match=r"params\.selected must be a \(2,\) bool mask"):
        transform(x[:2], params=params)
    with pytest.raises(
        NoiseaugInputError, match="params were drawn by a GaussianNoiseTransform, not a Heteroscedastic"
    ):
        HeteroscedasticNoiseTransform()(x, params=params)
    with pytest.raises(NoiseaugInputError, match=r"params\.selected is on meta, but the images are on cpu"):
        transform(x, params=params.to("meta"))
    with pytest.raises(NoiseaugTypeError, match="params must be NoiseParams"):
        transform(x, params={"sigma": torch.zeros(4)})  # type: ignore[arg-type]
    with pytest.raises(
        NoiseaugInputError, match=r"params\.draws hold \['extra', 'sigma'\], but this GaussianNoiseTransform draws"
    ):
        transform(x, params=dataclasses.replace(params, draws={"sigma": params.draws["sigma"], "extra": x[:, 0, 0, 0]}))
    with pytest.raises(NoiseaugInputError, match=r"params\.draws\['sigma'\] must be a float tensor of shape \(4,\)"):
        transform(x, params=dataclasses.replace(params, draws={"sigma": torch.zeros(4, 1)}))
    with pytest.raises(NoiseaugInputError, match="cond: the params already hold"):
        transform(x, NoiseCondition(iso=torch.ones(4)), params=params)
    # same class, other configuration: a mixture's params are not a one-configuration transform's
    mixture = naflow(mixture=True)
    with pytest.raises(
        NoiseaugInputError, match=r"params\.draws hold \['weights'\], but this NAFlowTransform draws \['config'\]"
    ):
        naflow()(x, params=mixture.generate_parameters(x.shape))
    route = RawRouteTransform(PoissonGaussianNoiseTransform())
    route_params = route.generate_parameters((4, 3, 8, 8))
    with pytest.raises(NoiseaugInputError, match=r"params\.inner must hold the raw transform's NoiseParams"):
        route(x, params=dataclasses.replace(route_params, inner=None))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda t: t.generate_parameters((4, 8, 8, 8)),
            NoiseaugInputError,
            "batch_shape must have 3 channels, got shape",
        ),
        (lambda t: t.generate_parameters((4, 3)), NoiseaugInputError, r"batch_shape must be \(B, C, H, W\)"),
        (lambda t: t.generate_parameters("4x3x8x8"), NoiseaugInputError, r"batch_shape must be \(B, C, H, W\)"),
        (lambda t: t.generate_parameters((-1, 3, 8, 8)), NoiseaugInputError, "non-negative"),
        (
            lambda t: t.generate_parameters((4, 3, 8, 8), selected=torch.ones(4)),
            NoiseaugInputError,
            r"selected must be a \(4,\) bool mask",
        ),
        (
            lambda t: t.generate_parameters((4, 3, 8, 8), selected=torch.ones(3, dtype=torch.bool)),
            NoiseaugInputError,
            r"selected must be a \(4,\) bool mask",
        ),
        (
            lambda t: t.generate_parameters((4, 3, 8, 8), NoiseCondition(iso=torch.ones(2))),
            NoiseaugInputError,
            "cond has 2 entries",
        ),
        (lambda t: t.generate_parameters((4, 3, 8, 8), generator="seed"), NoiseaugTypeError, "generator must be"),
    ],
)
def test_generate_parameters_checks_its_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(naflow())


def test_flow_shape_checks_apply_to_the_parameter_step():
    with pytest.raises(NoiseaugInputError, match="batch_shape: a Bayer mosaic"):
        noiseflow().generate_parameters((2, 1, 15, 16))
    with pytest.raises(NoiseaugInputError, match="batch_shape: the raw route needs even H and W"):
        RawRouteTransform(noiseflow()).generate_parameters((2, 3, 15, 16))
    with pytest.raises(NoiseaugInputError, match="cond.config is only used with mode='configuration'"):
        naflow().generate_parameters((2, 3, 8, 8), NoiseCondition(config=torch.tensor([0, 1])))


def test_replay_checks_read_no_values_in_async_mode():
    transform = GaussianNoiseTransform(p=0.5, validate="async")
    x = images((4, 3, 8, 8))
    params = transform.generate_parameters(x.shape, generator=torch.Generator().manual_seed(0))
    with HostReads() as reads:
        transform(x, generator=torch.Generator().manual_seed(1), params=params)
    assert reads.reads == []
    flow = noiseflow(p=0.5, validate="async")
    with HostReads() as reads:
        params = flow.generate_parameters((4, 4, 8, 8), generator=torch.Generator().manual_seed(0))
        flow(images((4, 4, 8, 8)), generator=torch.Generator().manual_seed(1), params=params)
    assert reads.reads == ["aten.nonzero.default"], "a flow gathers its rows once, in the parameter step"


def test_kornia_params_round_trip():
    pytest.importorskip("kornia")
    from noiseaug.transforms.kornia import KorniaNoise

    aug = KorniaNoise(GaussianNoiseTransform(sigma=(0.05, 0.1)), p=0.5)
    x, x2 = images((6, 3, 8, 8), 1), images((6, 3, 8, 8), 2)
    torch.manual_seed(5)
    y = aug(x)
    recorded = aug._params
    assert recorded["noise.draws.sigma"].shape == (6,) and "noise_seed" in recorded
    gate = recorded["batch_prob"] > 0.5
    assert gate.any() and not gate.all()
    assert torch.equal(aug(x, params=recorded), y)  # replay on the same batch
    torch.manual_seed(5)
    fresh_x2 = aug(x2)
    assert torch.equal(aug(x2, params=recorded), fresh_x2)  # and on a second batch: that call's exact noise
    # our draws in kornia's dict are what the call used: zero sigma, zero noise on the gated rows
    edited = {**recorded, "noise.draws.sigma": torch.zeros(6)}
    assert torch.equal(aug(x2, params=edited), x2)
    flow_aug = KorniaNoise(noiseflow(), p=0.5)
    torch.manual_seed(6)
    flow_aug(images((6, 4, 8, 8)))
    flow_params = flow_aug._params
    gate = flow_params["batch_prob"] > 0.5
    assert flow_params["noise.draws.camera"].shape == (6,)
    assert (flow_params["noise.draws.iso"][gate] > 0).all() and not flow_params["noise.draws.iso"][~gate].any()
    same = KorniaNoise(GaussianNoiseTransform(), same_on_batch=True)
    out = same(torch.full((3, 3, 8, 8), 0.5))
    assert same._params["noise.draws.sigma"].shape == (1,)  # one image's draws, for every image
    assert (
        torch.equal(out[0], out[1])
        and torch.equal(out[0], out[2])
        and not torch.equal(out[0], torch.full_like(out[0], 0.5))
    )
    with pytest.raises(NoiseaugInputError, match="params: batch_prob has 6 entries but the batch has 4 images"):
        aug(images((4, 3, 8, 8)), params=recorded)
    every = KorniaNoise(GaussianNoiseTransform())
    every(x)
    with pytest.raises(NoiseaugInputError, match=r"params\.draws\['sigma'\] must be a float tensor of shape \(4,\)"):
        every(images((4, 3, 8, 8)), params=every._params)


def test_synthesize_metadata_comes_from_the_params_of_each_call(tmp_path):
    folder = tmp_path / "clean"
    write_png(folder / "a.png", images((3, 12, 16)))
    write_png(folder / "b.png", torch.full((3, 8, 8), 0.5))
    for transform, key in [
        (GaussianNoiseTransform(sigma=(0.01, 0.2)), "params"),
        (naflow(), "configuration"),
        (naflow(mixture=True), "mixture"),
    ]:
        out = tmp_path / key
        metadata = json.loads(
            synthesize_folder(folder, out, transform, model_name="m", seed=3, progress=False).read_text()
        )
        for name in ("a.png", "b.png"):
            record = metadata["files"][name]
            generator = torch.Generator().manual_seed(image_seed(3, name))
            params = transform.generate_parameters((3, *record["size"]), generator=generator)
            assert {k: record[k] for k in (key,)} == describe_draw(transform, params)
        if key == "params":
            sigma = transform.generate_parameters(
                (1, 3, 12, 16), generator=torch.Generator().manual_seed(image_seed(3, "a.png"))
            ).draws["sigma"]
            assert metadata["files"]["a.png"]["params"] == {"sigma": float(sigma[0])}
        if key == "configuration":
            assert metadata["files"]["a.png"]["configuration"] in transform.model.configurations


def test_describe_parameters_of_the_other_families():
    g = torch.Generator().manual_seed(0)
    flow = noiseflow(isos=[3200], cameras=["cam0"])
    assert flow.describe_parameters(flow.generate_parameters((1, 4, 4, 4), generator=g)) == {
        "iso": 3200.0,
        "camera": "cam0",
    }
    fitted = naflow(mode="reference", reference=reference_pair(), reference_method="fitted")
    assert fitted.describe_parameters(fitted.generate_parameters((1, 3, 8, 8))) == {"reference_method": "fitted"}
    route = RawRouteTransform(PoissonGaussianNoiseTransform(gain=0.01))
    described = route.describe_parameters(route.generate_parameters((1, 3, 8, 8), generator=g))
    assert sorted(described) == ["gains", "inner", "rgb_to_cam"] and len(described["rgb_to_cam"]) == 3
    assert described["inner"]["params"]["gain"] == pytest.approx(0.01)
