"""The GPU training-loop path: validation modes without host reads, torch.compile, CUDA graphs, and the
flows' cached 1x1-convolution inverses.

On the CPU a "host sync" cannot be observed directly, so these tests record every tensor value the call
reads into Python (the ``aten._local_scalar_dense`` behind ``.item()`` / ``float()`` / ``bool()``, ``tolist``,
and the data-dependent ops CUDA must synchronise for: ``nonzero``, ``masked_select``, ``unique``). The CUDA
tests run the same calls under ``torch.cuda.set_sync_debug_mode("error")`` and skip without CUDA.
"""

from __future__ import annotations

import pytest
import torch
from flow_helpers import trained_looking, trained_looking_flow
from torch.utils._python_dispatch import TorchDispatchMode

from noiseaug import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseCondition,
    NoiseFlowTransform,
    PoissonGaussianNoiseTransform,
)
from noiseaug._validation import as_batch, check_validate, validation
from noiseaug.data import bayer
from noiseaug.flows.layers import InvConv1x1, cached_inverses
from noiseaug.flows.naflow import NAFlow
from noiseaug.transforms.pipeline import DeviceNoise, capture_cuda_graph
from noiseaug.transforms.raw_route import RawRouteTransform

READING_OPS = (
    "aten._local_scalar_dense",
    "aten.nonzero",
    "aten.masked_select",
    "aten._unique",
    "aten.unique",
    "aten.is_nonzero",
    "aten.equal",
)


class HostReads(TorchDispatchMode):
    """Records the ops (and ``tolist`` calls) through which a value reaches Python."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func).startswith(READING_OPS):
            self.reads.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.fixture
def host_reads(monkeypatch):
    """A :class:`HostReads` to enter around a call; ``Tensor.tolist`` (not dispatched) is counted too."""
    mode = HostReads()
    original = torch.Tensor.tolist

    def counted(self):
        mode.reads.append("tolist")
        return original(self)

    monkeypatch.setattr(torch.Tensor, "tolist", counted)
    return mode


def small_noiseflow_transform(**kwargs) -> NoiseFlowTransform:
    return NoiseFlowTransform(trained_looking_flow(["cam0", "cam1"], [100, 800]), **kwargs)


def small_naflow_transform(**kwargs) -> NAFlowTransform:
    flow = trained_looking(NAFlow, ["a-iso100", "b-iso3200"], levels=2, blocks=1, hidden=8, features=4)
    return NAFlowTransform(flow, **kwargs)


def every_transform(validate: str, p: float = 1.0):
    """(name, transform, input shape) for every transform in the package, built with ``validate``."""
    return [
        ("gaussian", GaussianNoiseTransform(p=p, validate=validate), (4, 3, 16, 16)),
        ("nlf", HeteroscedasticNoiseTransform(p=p, validate=validate), (4, 3, 16, 16)),
        ("poisson-gaussian", PoissonGaussianNoiseTransform(p=p, validate=validate), (4, 3, 16, 16)),
        ("noiseflow packed", small_noiseflow_transform(validate=validate), (4, 4, 8, 8)),
        ("noiseflow mosaic", small_noiseflow_transform(validate=validate), (4, 1, 16, 16)),
        ("naflow random", small_naflow_transform(validate=validate), (4, 3, 12, 10)),
        ("naflow mixture", small_naflow_transform(mixture=True, validate=validate), (4, 3, 8, 8)),
        (
            "raw route",
            RawRouteTransform(small_noiseflow_transform(validate=validate), validate=validate),
            (2, 3, 16, 16),
        ),
    ]


def clean(shape, device="cpu"):
    return torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)


@pytest.mark.parametrize("validate", ["async", "off"])
def test_no_value_reaches_python_outside_sync_mode(validate, host_reads):
    for name, transform, shape in every_transform(validate):
        x = clean(shape)
        with host_reads:
            transform(x, generator=torch.Generator().manual_seed(1))
        assert host_reads.reads == [], f"{name} ({validate}) read {host_reads.reads}"
    for p in (0.5, 0.0):  # cheap noise with p < 1 selects rows with torch.where
        transform = GaussianNoiseTransform(p=p, validate=validate)
        with host_reads:
            transform(clean((4, 3, 8, 8)), generator=torch.Generator().manual_seed(1))
        assert host_reads.reads == []


def test_sync_mode_does_read_values(host_reads):
    """The counter sees the reads of the default mode, so the test above can fail."""
    for name, transform, shape in every_transform("sync"):
        with host_reads:
            transform(clean(shape), generator=torch.Generator().manual_seed(1))
        assert host_reads.reads, name
        host_reads.reads.clear()


def test_given_condition_is_checked_without_reads(host_reads):
    transform = small_noiseflow_transform(validate="async")
    cond = NoiseCondition(iso=torch.tensor([100.0, 800.0]), camera=torch.tensor([1, 0]))
    with host_reads:
        transform(clean((2, 4, 8, 8)), cond, generator=torch.Generator().manual_seed(0))
    assert host_reads.reads == []
    bad_camera = NoiseCondition(iso=torch.tensor([100.0, 800.0]), camera=torch.tensor([1, 5]))
    with pytest.raises(RuntimeError, match="cond.camera must hold integer indices"):
        transform(clean((2, 4, 8, 8)), bad_camera)
    with pytest.raises(ValueError, match=r"got \[1, 5\]"):
        small_noiseflow_transform()(clean((2, 4, 8, 8)), bad_camera)
    bad_iso = NoiseCondition(iso=torch.tensor([100.0, 400.0]), camera=torch.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="unknown ISO"):
        transform(clean((2, 4, 8, 8)), bad_iso)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.2])
def test_async_mode_still_rejects_bad_images(bad):
    x = clean((2, 3, 8, 8))
    x[1, 0, 3, 3] = bad
    with pytest.raises(RuntimeError, match="images values must be finite and lie in \\[0, 1\\]"):
        GaussianNoiseTransform(validate="async")(x)
    with pytest.raises(ValueError, match="images"):
        GaussianNoiseTransform()(x)  # the default: a ValueError at once, as before
    assert GaussianNoiseTransform(validate="off")(x).shape == x.shape  # not read


def test_validate_is_checked_and_settable():
    with pytest.raises(ValueError, match="validate must be one of"):
        GaussianNoiseTransform(validate="lazy")
    transform = PoissonGaussianNoiseTransform()
    assert transform.validate == "sync"
    transform.validate = "async"
    assert "validate='async'" in repr(transform)
    with pytest.raises(ValueError, match="validate"):
        transform.validate = True
    with pytest.raises(ValueError, match="validate"):
        check_validate(None)
    hook = DeviceNoise(GaussianNoiseTransform(), seed=0, validate="off")
    assert hook.transform.validate == "off"


def test_ambient_mode_is_restored_and_explicit_mode_wins():
    bad = torch.full((1, 3, 2, 2), 2.0)
    with validation("off"):
        as_batch(bad, "x")
        with pytest.raises(ValueError, match="x values must lie in"):
            as_batch(bad, "x", validate="sync")
    with pytest.raises(ValueError):
        as_batch(bad, "x")


@pytest.mark.parametrize("validate", ["async", "off"])
def test_modes_give_the_same_noise(validate):
    for (name, fast, shape), (_, default, _) in zip(every_transform(validate), every_transform("sync"), strict=True):
        x = clean(shape)
        assert torch.equal(
            fast(x, generator=torch.Generator().manual_seed(3)), default(x, generator=torch.Generator().manual_seed(3))
        ), name


# torch.compile: fullgraph=True fails on any graph break. The "eager" and "aot_eager" backends trace the
# whole call (dynamo, then AOTAutograd) without inductor's code generation, which takes minutes on this CPU;
# inductor itself is exercised on a device (benchmarks/device_check.sh). Generators are not traceable
# arguments: compiled calls use torch's global RNG.
PARAMETRIC = [GaussianNoiseTransform, HeteroscedasticNoiseTransform, PoissonGaussianNoiseTransform]


@pytest.mark.parametrize("cls", PARAMETRIC)
@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_parametric_transforms_compile_without_graph_breaks(cls, backend):
    torch._dynamo.reset()
    transform = cls(p=0.5, validate="async")
    compiled = torch.compile(transform, fullgraph=True, backend=backend)
    x = clean((4, 3, 8, 8))
    torch.manual_seed(0)
    got = compiled(x)
    torch.manual_seed(0)
    assert torch.equal(got, transform(x))


def test_sync_mode_is_a_graph_break():
    """Why compiled calls need validate='async' or 'off': the default reads values on the host."""
    torch._dynamo.reset()
    compiled = torch.compile(GaussianNoiseTransform(), fullgraph=True, backend="eager")
    with pytest.raises(Exception, match="data-dependent"):
        compiled(clean((2, 3, 8, 8)))


# The flows' inverse 1x1 convolutions


def reference_inverse(self, y, cond=None):
    """InvConv1x1.inverse as it was: the weight inverted at every application."""
    w_inv = torch.linalg.inv(self.weight().double()).to(y.dtype)
    return torch.nn.functional.conv2d(y, w_inv[:, :, None, None])


@pytest.mark.parametrize(
    "make, shape", [(small_naflow_transform, (3, 3, 16, 16)), (small_noiseflow_transform, (3, 4, 16, 16))]
)
def test_cached_inverses_give_bit_identical_samples(make, shape, monkeypatch):
    transform = make()
    x = clean(shape)
    transform.model.max_pixels = 200  # tiled: each tile decodes every layer again
    cached = transform(x, generator=torch.Generator().manual_seed(5))
    calls = []
    weight = InvConv1x1.weight
    monkeypatch.setattr(InvConv1x1, "weight", lambda self: calls.append(id(self)) or weight(self))
    again = transform(x, generator=torch.Generator().manual_seed(5))
    convs = [m for m in transform.modules() if isinstance(m, InvConv1x1)]
    assert sorted(set(calls)) == sorted(map(id, convs)) and len(calls) == len(convs)  # once per layer per call
    monkeypatch.setattr(InvConv1x1, "inverse", reference_inverse)
    assert torch.equal(cached, again)
    assert torch.equal(cached, transform(x, generator=torch.Generator().manual_seed(5)))


def test_cache_is_only_used_without_grad_and_is_dropped_after_the_block():
    conv = InvConv1x1(4, seed=1)
    y = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    with cached_inverses(conv):
        with torch.no_grad():
            first = conv.inverse(y)
            with torch.no_grad():
                conv.log_s.add_(0.5)  # a change inside the block is not seen (documented contract)
            assert torch.equal(conv.inverse(y), first)
        with_grad = conv.inverse(y)  # with grad: computed afresh, differentiable
        assert with_grad.requires_grad and not torch.equal(with_grad, first)
    assert conv._inverse_cache is None
    with torch.no_grad():
        assert torch.equal(conv.inverse(y), reference_inverse(conv, y))


# On a device


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("validate", ["async", "off"])
def test_every_transform_runs_without_host_sync_on_cuda(validate, monkeypatch):
    """Ours never synchronise. The raw route's bilinear demosaic is kornia's ``raw_to_rgb``, which builds its 3x3
    kernel from a Python list on every call (one host-to-device copy, seen with kornia 0.9): a sync-free stand-in
    replaces it here, so that the rest of the route is checked."""
    monkeypatch.setattr(bayer, "raw_to_rgb", lambda mosaic, cfa: mosaic.expand(-1, 3, -1, -1).clone())
    for name, transform, shape in every_transform(validate):
        transform = transform.cuda()
        x = clean(shape, "cuda")
        generator = torch.Generator(device="cuda").manual_seed(0)
        transform(x, generator=generator)  # warm-up: lazy initialisation may synchronise once
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            transform(x, generator=generator)
        except RuntimeError as error:
            raise AssertionError(f"{name} ({validate}) synchronised: {error}") from error
        finally:
            torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()


@cuda
def test_device_noise_runs_without_host_sync_on_cuda():
    hook = DeviceNoise(PoissonGaussianNoiseTransform(p=0.5), device="cuda", seed=0, validate="async")
    batch = torch.rand(8, 3, 32, 32, device="cuda")
    hook(batch)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        hook(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@cuda
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: GaussianNoiseTransform(p=0.5, validate="async"), (8, 3, 32, 32)),
        (lambda: HeteroscedasticNoiseTransform(validate="async"), (8, 3, 32, 32)),
        (lambda: PoissonGaussianNoiseTransform(validate="async"), (8, 3, 32, 32)),
        (lambda: small_noiseflow_transform(validate="async"), (8, 4, 16, 16)),
        (lambda: small_naflow_transform(validate="async"), (8, 3, 16, 16)),
    ],
)
def test_cuda_graph_capture_replays_fresh_noise(make, shape):
    """Static shapes, the generator registered with the graph: each replay draws new noise."""
    transform = make().cuda()
    x = clean(shape, "cuda")
    generator = torch.Generator(device="cuda").manual_seed(0)
    replay, out = capture_cuda_graph(transform, x, generator)
    replay()
    first = out.clone()
    replay()
    torch.cuda.synchronize()
    assert torch.isfinite(first).all() and not torch.equal(first, out)
    assert first.min() >= 0 and first.max() <= 1


@cuda
@pytest.mark.parametrize("cls", PARAMETRIC)
def test_parametric_transforms_compile_with_inductor_on_cuda(cls):
    torch._dynamo.reset()
    compiled = torch.compile(cls(validate="async"), fullgraph=True, mode="reduce-overhead")
    x = clean((8, 3, 32, 32), "cuda")
    for _ in range(3):
        out = compiled(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("flow", ["naflow", "noiseflow"])
def test_flow_transforms_with_channels_last_weights_give_the_same_noise_and_save_contiguous(flow, tmp_path):
    """``transform.to(memory_format=torch.channels_last)`` (the CPU speed-up docs/guide.md suggests): the same
    noise to float rounding, and weights that save and load as before."""
    from noiseaug.hub import load_pretrained, save_pretrained

    if flow == "naflow":
        model = trained_looking(NAFlow, configurations=["a-iso100", "b-iso3200"], hidden=8, features=4, scale=0.01)
        make, x = NAFlowTransform, torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    else:
        model = trained_looking_flow(["cam-a", "cam-b"], [100, 800], hidden=4, steps=1)
        make, x = NoiseFlowTransform, torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    reference = make(model)(x, generator=torch.Generator().manual_seed(1))
    fast = make(model).to(memory_format=torch.channels_last)
    assert any(p.ndim == 4 and not p.is_contiguous() for p in fast.parameters())  # the layout did change
    torch.testing.assert_close(fast(x, generator=torch.Generator().manual_seed(1)), reference)
    folder = save_pretrained(fast.model, tmp_path / "flow")
    torch.testing.assert_close(make(load_pretrained(folder))(x, generator=torch.Generator().manual_seed(1)), reference)
