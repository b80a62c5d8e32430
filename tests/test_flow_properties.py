"""Property-based flow-layer contract (DESIGN.md "Flow layer contract") over random shapes, batch sizes,
conditions and parameter perturbations, for every invertible layer and the whole models:

* ``inverse(forward(x)) == x`` in float64 (1e-5 relative). Not ``forward(inverse(z))`` for a latent ``z`` off
  the image of the data: through random weights, Glow's unbounded coupling scale can amplify it beyond
  float64 (1e14 after one coupling), the overflow that NAFlow's ``scale_floor`` bounds;
* ``logdet`` is the log |det| of the autograd Jacobian (tiny inputs: at most 48 dimensions per sample),
  and the Jacobian has no blocks across samples;
* ``logdet`` is per-sample ``(B,)``: each sample's latent and log-det are those of the sample alone.

Hypothesis runs derandomised (a fixed example sequence), so the tests are deterministic.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import pytest
import torch
from flow_helpers import trained_looking
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from noiseaug import Glow, NAFlow, NoiseCondition, NoiseFlow
from noiseaug.flows.glow import GaussianSplit
from noiseaug.flows.layers import (
    ActNorm,
    AffineCoupling,
    AffineInjector,
    FlowCondition,
    FlowStep,
    Gain,
    InvConv1x1,
    SignalDependent,
    Squeeze,
)

FEATURES, HIDDEN, CAMERAS, ISOS = 3, 4, 2, [100.0, 800.0, 3200.0]
JACOBIAN_DIMS, ROUND_TRIP_DIMS, MAX_SIDE = 48, 1024, 16
SEEDS, FLOORS = st.integers(0, 2**16), st.sampled_from([0.0, 0.5])
# parameter perturbations; the models' LU convolutions have up to 48 channels, and random triangular factors
# that far from the initial rotation are ill-conditioned beyond float64 (unlike a trained flow's)
SCALES, MODEL_SCALES = st.floats(0.0, 0.5), st.floats(0.0, 0.1)


@dataclass
class Case:
    """A flow on a batch ``x``; ``forward(x, rows)`` / ``inverse(y, rows)`` use the condition of batch ``rows``."""

    x: Tensor
    forward: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
    inverse: Callable[[Tensor, Tensor], Tensor]


@st.composite
def shapes(draw, channels: tuple[int, int], multiple: int, max_dims: int) -> tuple[int, int, int, int]:
    """``(B, C, H, W)`` with H and W multiples of ``multiple`` and ``C * H * W <= max_dims``."""
    c = draw(st.integers(channels[0], min(channels[1], max_dims // multiple**2)))
    units = max_dims // (c * multiple**2)  # h_units * w_units <= units
    h = draw(st.integers(1, min(units, MAX_SIDE // multiple)))
    w = draw(st.integers(1, min(units // h, MAX_SIDE // multiple)))
    return draw(st.integers(1, 3)), c, multiple * h, multiple * w


def _rows(cond: FlowCondition, rows: Tensor) -> FlowCondition:
    return replace(cond, **{f.name: v[rows] for f in fields(cond) if (v := getattr(cond, f.name)) is not None})


def _layer(min_channels: int, make: Callable[[int, float, int], torch.nn.Module], multiple: int = 1):
    def build(draw, max_dims: int) -> Case:
        b, c, h, w = draw(shapes((min_channels, 6), multiple, max_dims))
        seed, floor = draw(SEEDS), draw(FLOORS)
        layer = trained_looking(lambda: make(c, floor, seed), seed=seed, scale=draw(SCALES)).double()
        gen = torch.Generator().manual_seed(seed)
        iso_index = torch.randint(len(ISOS), (b,), generator=gen)
        cond = FlowCondition(
            clean=torch.rand(b, c, h, w, generator=gen, dtype=torch.float64),
            features=torch.randn(b, FEATURES, h, w, generator=gen, dtype=torch.float64),
            iso=torch.tensor(ISOS, dtype=torch.float64)[iso_index],
            iso_index=iso_index,
            camera=torch.randint(CAMERAS, (b,), generator=gen),
        )
        return Case(
            torch.randn(b, c, h, w, generator=gen, dtype=torch.float64),
            lambda v, rows: layer(v, _rows(cond, rows)),
            lambda v, rows: layer.inverse(v, _rows(cond, rows)),
        )

    return build


def _noise_flow(draw, max_dims: int) -> Case:
    b, _, h, w = draw(shapes((4, 4), 1, max_dims))
    seed, cameras = draw(SEEDS), draw(st.integers(1, 3))
    isos = draw(st.lists(st.sampled_from([50, 100, 400, 1600, 3200, 25600]), min_size=1, max_size=4, unique=True))
    flow = trained_looking(
        NoiseFlow,
        [f"cam{i}" for i in range(cameras)],
        isos,
        seed=seed,
        scale=draw(MODEL_SCALES),
        hidden=draw(st.integers(1, HIDDEN)),
        steps=draw(st.integers(1, 2)),
        variant=draw(st.sampled_from(["full", "nlf"])),
    ).double()
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(b, 4, h, w, generator=gen, dtype=torch.float64)
    cond = NoiseCondition(
        iso=torch.tensor(isos, dtype=torch.float64)[torch.randint(len(isos), (b,), generator=gen)],
        camera=torch.randint(cameras, (b,), generator=gen),
    )
    fc = flow.flow_condition(clean, cond)
    return Case(
        0.05 * torch.randn(b, 4, h, w, generator=gen, dtype=torch.float64),
        lambda v, rows: flow.encode(v, _rows(fc, rows)),
        lambda v, rows: flow.decode(v, _rows(fc, rows)),
    )


def _naflow(draw, max_dims: int) -> Case:
    levels = draw(st.integers(1, 2))
    b, _, h, w = draw(shapes((3, 3), 2**levels, max_dims))
    seed = draw(SEEDS)
    flow = trained_looking(
        NAFlow,
        ["a", "b"],
        seed=seed,
        scale=draw(MODEL_SCALES),
        levels=levels,
        blocks=draw(st.integers(1, 2)),
        hidden=HIDDEN,
        features=draw(st.integers(1, 3)),
        scale_floor=draw(FLOORS),
    ).double()
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(b, 3, h, w, generator=gen, dtype=torch.float64)
    return Case(
        0.05 * torch.randn(b, 3, h, w, generator=gen, dtype=torch.float64),
        lambda v, rows: flow.encode(v, clean[rows]),
        lambda v, rows: flow.decode(v, clean[rows]),
    )


def _glow(draw, max_dims: int) -> Case:
    levels = draw(st.integers(1, 2))
    b, c, h, w = draw(shapes((1, 3), 2**levels, max_dims))
    seed = draw(SEEDS)
    glow = trained_looking(
        Glow,
        seed=seed,
        scale=draw(MODEL_SCALES),
        channels=c,
        levels=levels,
        depth=draw(st.integers(1, 2)),
        hidden=HIDDEN,
        image_size=2**levels,
    ).double()
    x = torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return Case(x, lambda v, rows: glow(v), lambda v, rows: glow.inverse(v))


CASES = {
    "actnorm": _layer(1, lambda c, floor, seed: ActNorm(c)),
    "invconv": _layer(1, lambda c, floor, seed: InvConv1x1(c, seed=seed)),
    "coupling": _layer(2, lambda c, floor, seed: AffineCoupling(c, HIDDEN, scale_floor=floor)),
    "conditional_coupling": _layer(2, lambda c, floor, seed: AffineCoupling(c, HIDDEN, FEATURES, scale_floor=floor)),
    "injector": _layer(1, lambda c, floor, seed: AffineInjector(c, FEATURES, HIDDEN, scale_floor=floor)),
    "squeeze": _layer(1, lambda c, floor, seed: Squeeze(), multiple=2),
    "signal_dependent": _layer(1, lambda c, floor, seed: SignalDependent(CAMERAS, len(ISOS))),
    "gain": _layer(1, lambda c, floor, seed: Gain(ISOS, CAMERAS)),
    "flow_step": _layer(2, lambda c, floor, seed: FlowStep(c, HIDDEN, seed=seed)),
    "gaussian_split": _layer(2, lambda c, floor, seed: GaussianSplit(c)),
    "noise_flow": _noise_flow,
    "naflow": _naflow,
    "glow": _glow,
}
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)


def _all(case: Case) -> Tensor:
    return torch.arange(case.x.shape[0])


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_inverse_undoes_forward(name, data):
    case = CASES[name](data.draw, ROUND_TRIP_DIMS)
    rows = _all(case)
    y, _ = case.forward(case.x, rows)
    torch.testing.assert_close(case.inverse(y, rows), case.x, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_logdet_is_the_per_sample_autograd_log_abs_det(name, data):
    case = CASES[name](data.draw, JACOBIAN_DIMS)
    rows, (b, n) = _all(case), (case.x.shape[0], case.x[0].numel())
    _, logdet = case.forward(case.x, rows)
    jacobian = torch.autograd.functional.jacobian(lambda v: case.forward(v, rows)[0], case.x, vectorize=True)
    jacobian = jacobian.reshape(b, n, b, n)
    for i in range(b):
        sign, expected = torch.linalg.slogdet(jacobian[i, :, i])
        assert sign != 0
        torch.testing.assert_close(logdet[i], expected, rtol=1e-6, atol=1e-6)
        others = torch.arange(b) != i
        assert torch.equal(jacobian[i][:, others], torch.zeros_like(jacobian[i][:, others]))  # y_i ignores x_j


@pytest.mark.parametrize("name", CASES)
@PROPERTY
@given(data=st.data())
def test_each_sample_transforms_as_it_would_alone(name, data):
    case = CASES[name](data.draw, ROUND_TRIP_DIMS)
    y, logdet = case.forward(case.x, _all(case))
    assert logdet.shape == (case.x.shape[0],) and logdet.dtype == torch.float64
    for i in range(case.x.shape[0]):
        row = torch.tensor([i])
        y_alone, logdet_alone = case.forward(case.x[row], row)
        torch.testing.assert_close(y_alone, y[row])
        torch.testing.assert_close(logdet_alone, logdet[row])
