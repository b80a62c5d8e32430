"""The base class of every noise augmentation: the parameter step, validation, ``p``, clipping, generators, rows."""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import (
    as_batch,
    check_condition,
    check_device,
    check_generator,
    check_probability,
    check_validate,
    unbatch,
    validation,
)
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .noise_params import NoiseParams, ParameterSpec, check_params, empty_draws, scatter_rows

#: A batch shape ``(B, C, H, W)``.
Shape = tuple[int, ...]


class NoiseTransform(nn.Module, ABC):
    """A batched noise augmentation: clean ``(B, C, H, W)`` in [0, 1] in, noisy batch out, one call.

    A call has two steps, as kornia's augmentations do:

    1. :meth:`generate_parameters` draws the :class:`~noiseaug.transforms.noise_params.NoiseParams` of the
       call: the ``p`` mask (``selected``) and each image's model parameters (the subclass's
       :meth:`parameter_spec` lists them);
    2. :meth:`apply_transform` (``forward(images, params=...)``) adds the noise those parameters describe; only the noise
       field itself is drawn here, from ``generator``.

    ``forward(images, cond, generator)`` is both, drawing from ``generator`` in that order (mask, parameters,
    noise field). ``forward(images, params=params, generator=g)`` replays: the same ``params`` and a generator
    in the same state give the same noise on another batch of the same shape (two crops, two frames); another
    generator state gives the same per-image parameters with a new noise field.

    Subclasses implement :meth:`add_noise` (the noise of rows given their parameters) and, when they draw
    per-image parameters, :meth:`parameter_spec` and :meth:`draw_parameters`; this class handles the rest so
    that every transform (parametric or flow) behaves the same:

    * ``(C, H, W)`` input is accepted and returned as such; any float dtype, any device;
    * ``p``: each sample is noised with probability ``p`` (the others pass through unchanged);
    * ``clip``: clamp the output to [0, 1] (default on, as an augmentation should);
    * ``generator``: a ``torch.Generator`` on the images' device; the same seed gives bit-identical
      output on the same device. Without one, torch's global RNG is used;
    * ``validate``: how the images' values (range, NaN/Inf) and the other value checks of the call are
      checked: ``"sync"`` (default, a ``ValueError`` at once; one host sync per check on CUDA),
      ``"async"`` (``torch._assert_async`` on the device: no host sync, a failure surfaces later as a
      device-side assert) or ``"off"`` (see :mod:`noiseaug._validation`). An attribute: set it on a
      built transform with ``transform.validate = "async"``.

    Subclasses that are expensive per row (flows) set ``compute_selected_rows_only = True`` so that
    with ``p < 1`` only the selected rows are drawn and computed (one host sync, in the parameter step, to
    gather them); cheap parametric noise is drawn and computed for all rows and selected with ``torch.where``
    (no sync).

    Example (the same draw on two crops):
        >>> import torch
        >>> from noiseaug import GaussianNoiseTransform
        >>> transform = GaussianNoiseTransform(sigma=(0.01, 0.2), p=0.5)
        >>> g = torch.Generator().manual_seed(0)
        >>> params = transform.generate_parameters((4, 3, 8, 8), generator=g)
        >>> params.selected.shape, params.draws["sigma"].shape
        (torch.Size([4]), torch.Size([4]))
        >>> state = g.get_state()
        >>> crop_a, crop_b = torch.full((4, 3, 8, 8), 0.5), torch.full((4, 3, 8, 8), 0.5)
        >>> a = transform(crop_a, params=params, generator=g)
        >>> _ = g.set_state(state)
        >>> torch.equal(transform(crop_b, params=params, generator=g), a)
        True
    """

    #: Accepted channel counts (``None``: any).
    channels: tuple[int, ...] | None = None
    compute_selected_rows_only: bool = False

    #: Nested value checks (flows, ISP) run under :func:`~noiseaug._validation.validation`; parametric
    #: transforms have none and skip the context (which ``torch.compile`` cannot trace).
    nested_checks: bool = False

    def __init__(self, p: float = 1.0, clip: bool = True, validate: str = "sync") -> None:
        super().__init__()
        self.p = check_probability(p)
        if not isinstance(clip, bool):
            raise NoiseaugTypeError(f"clip must be a bool, got {type(clip).__name__}")
        self.clip = clip
        self.validate = validate

    @property
    def validate(self) -> str:
        """The validation mode of this transform's calls (class docs)."""
        return self._validate

    @validate.setter
    def validate(self, mode: str) -> None:
        self._validate = check_validate(mode)

    def forward(
        self,
        images: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        params: NoiseParams | None = None,
    ) -> Tensor:
        """Return ``images`` with noise added (a new tensor; the input is not modified).

        With ``params`` (from :meth:`generate_parameters`, for a batch of this shape on this device) nothing but the
        noise field is drawn; ``cond`` then belongs to :meth:`generate_parameters` and is an error here.
        """
        x, unbatched = as_batch(images, "images", channels=self.channels, validate=self._validate)
        check_generator(generator, x.device)
        check_condition(cond, x.shape[0])
        if params is not None:
            if cond is not None:
                raise NoiseaugInputError(
                    "cond: the params already hold what the condition chose; pass cond to "
                    "generate_parameters, or call without params"
                )
            params = self._check_params(params, x)
        if x.shape[0] == 0 or (params is None and self.p == 0.0):
            return unbatch(x.clone(), unbatched)
        if self.nested_checks:
            with validation(self._validate):
                noisy = self._call(x, cond, generator, params)
        else:
            noisy = self._call(x, cond, generator, params)
        if self.clip:
            noisy = clamp_unit(noisy, x)
        return unbatch(noisy, unbatched)

    def apply_transform(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None = None) -> Tensor:
        """Add the noise ``params`` describe to ``clean`` (``forward(clean, params=params, generator=generator)``)."""
        return self(clean, generator=generator, params=params)

    def generate_parameters(
        self,
        batch_shape: tuple[int, ...] | torch.Size,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        selected: Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> NoiseParams:
        """Draw the parameters of a call on a batch of ``batch_shape`` (``(B, C, H, W)`` or ``(C, H, W)``).

        ``generator`` is consumed exactly as ``forward`` would before its noise field: the ``p`` mask (unless
        ``p`` is 0 or 1, or ``selected`` is given), then the subclass's draws. ``selected``: a ``(B,)`` bool mask
        chosen by the caller (a host library's own ``p``) instead of this transform's ``p``. ``device``: where the
        parameters live (default: the generator's device, else the CPU): the images' device.
        """
        shape = check_batch_shape(batch_shape, self.channels)
        if device is not None:
            where = check_device(device)
        else:
            where = generator.device if isinstance(generator, torch.Generator) else torch.device("cpu")
        check_generator(generator, where)
        cond = check_condition(cond, shape[0])
        self._check_call(shape, cond, "batch_shape")
        mask = None if selected is None else check_mask(selected, shape[0], where)
        if self.nested_checks:
            with validation(self._validate):
                return self._generate(shape, cond, generator, where, mask)
        return self._generate(shape, cond, generator, where, mask)

    def describe_parameters(self, params: NoiseParams, row: int = 0) -> dict[str, Any]:
        """What ``params`` hold for image ``row``, as JSON-ready values (``noiseaug synthesize``'s metadata)."""
        described: dict[str, Any] = {name: value[row].tolist() for name, value in params.draws.items()}
        if params.inner is not None:
            described["inner"] = self._describe_inner(params.inner, row)
        return described

    def parameter_spec(self) -> ParameterSpec:
        """What this transform draws per image: ``{name: (dtype, shape of one row)}``, the keys of ``params.draws``
        (nothing here: a subclass that draws only its noise field needs neither this nor :meth:`draw_parameters`)."""
        return {}

    def draw_parameters(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        """The :meth:`parameter_spec` draws for ``shape[0]`` rows that are all noised (``cond``: their rows, as
        given), on ``device``, from ``generator``."""
        return {}

    @abstractmethod
    def add_noise(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None) -> Tensor:
        """Noise every row of a validated ``(B, C, H, W)`` batch with its ``params`` rows (``params.draws``); unclipped,
        same dtype. Draws only the noise field, from ``generator``."""

    def _draw_inner(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> NoiseParams | None:
        """A wrapped transform's parameters, drawn after :meth:`draw_parameters` (none here)."""
        return None

    def _inner_without_draws(self, shape: Shape, device: torch.device) -> NoiseParams | None:
        """The wrapped transform's parameters of a call that draws nothing (none here)."""
        return None

    def _describe_inner(self, inner: NoiseParams, row: int) -> dict[str, Any]:
        raise NotImplementedError  # only transforms that wrap another one have inner parameters

    def _check_call(self, shape: tuple[int, ...], cond: NoiseCondition | None, name: str) -> None:
        """Checks of a call's shape and condition that go beyond ``channels`` (none here)."""

    def _check_params(self, params: object, x: Tensor) -> NoiseParams:
        return check_params(params, type(self).__name__, self.parameter_spec(), x.shape[0], x.device)

    def _without_draws(self, shape: Shape, device: torch.device) -> NoiseParams:
        """The parameters of a call that noises nothing (``p = 0``): zeros, no generator consumed."""
        return NoiseParams(
            type(self).__name__,
            torch.zeros(shape[0], dtype=torch.bool, device=device),
            empty_draws(self.parameter_spec(), shape[0], device),
            "none",
            inner=self._inner_without_draws(shape, device),
        )

    def _generate(
        self,
        shape: Shape,
        cond: NoiseCondition | None,
        generator: torch.Generator | None,
        device: torch.device,
        selected: Tensor | None,
    ) -> NoiseParams:
        name, batch = type(self).__name__, shape[0]
        if selected is None:
            if batch == 0 or self.p == 0.0:
                return self._without_draws(shape, device)
            if self.p == 1.0:
                every = torch.ones(batch, dtype=torch.bool, device=device)
                return NoiseParams(
                    name,
                    every,
                    self.draw_parameters(shape, cond, generator, device),
                    "all",
                    inner=self._draw_inner(shape, cond, generator, device),
                )
            selected = torch.rand(batch, generator=generator, device=device) < self.p
        if not self.compute_selected_rows_only:
            return NoiseParams(
                name,
                selected,
                self.draw_parameters(shape, cond, generator, device),
                "mask",
                inner=self._draw_inner(shape, cond, generator, device),
            )
        rows = selected.nonzero().squeeze(1)  # the call's one host sync
        if rows.numel() == 0:
            return NoiseParams(name, selected, empty_draws(self.parameter_spec(), batch, device), "mask")._cache_rows(
                rows
            )
        rows_shape = (rows.shape[0], *shape[1:])
        draws = self.draw_parameters(rows_shape, None if cond is None else cond.index(rows), generator, device)
        return NoiseParams(name, selected, scatter_rows(draws, rows, batch), "mask")._cache_rows(rows)

    def _call(
        self, x: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, params: NoiseParams | None
    ) -> Tensor:
        if params is None:
            params = self._generate(x.shape, cond, generator, x.device, None)
        if params.gate == "none":
            return x.clone()
        if params.gate == "all":
            return self.add_noise(x, params, generator)
        if not self.compute_selected_rows_only:
            return torch.where(params.selected.view(-1, 1, 1, 1), self.add_noise(x, params, generator), x)
        rows = params.selected_rows()
        noisy = x.clone()
        if rows.numel():
            noisy[rows] = self.add_noise(x[rows], params.index(rows), generator)
        return noisy

    def extra_repr(self) -> str:
        return f"p={self.p}, clip={self.clip}" + ("" if self._validate == "sync" else f", validate={self._validate!r}")


def check_batch_shape(shape: object, channels: tuple[int, ...] | None, name: str = "batch_shape") -> Shape:
    """A ``(B, C, H, W)`` or ``(C, H, W)`` shape (non-negative ints) as ``(B, C, H, W)``, ``C`` one of ``channels``."""
    if (
        not isinstance(shape, (tuple, list, torch.Size))
        or len(shape) not in (3, 4)
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
        or min(int(s) for s in shape) < 0
    ):
        raise NoiseaugInputError(f"{name} must be (B, C, H, W) or (C, H, W) non-negative ints, got {shape!r}")
    full = tuple(int(s) for s in shape)
    b, c, h, w = full if len(full) == 4 else (1, *full)
    if channels is not None and c not in channels:
        raise NoiseaugInputError(f"{name} must have {' or '.join(map(str, channels))} channels, got shape {full}")
    return b, c, h, w


def check_call_shape(transform: NoiseTransform, shape: object, name: str = "images") -> Shape:
    """The shape checks of a ``transform`` call (channels, the subclass's own, e.g. even mosaics) on ``shape``,
    with errors naming ``name``: for callers that draw the parameters before the images reach ``forward``."""
    checked = check_batch_shape(shape, transform.channels, name)
    transform._check_call(checked, None, name)
    return checked


def check_mask(selected: object, batch: int, device: torch.device, name: str = "selected") -> Tensor:
    """A ``(batch,)`` bool mask on ``device`` (shape, dtype and device only: no host sync)."""
    if not isinstance(selected, Tensor) or selected.dtype != torch.bool or tuple(selected.shape) != (batch,):
        got = f"{selected.dtype} {tuple(selected.shape)}" if isinstance(selected, Tensor) else type(selected).__name__
        raise NoiseaugInputError(f"{name} must be a ({batch},) bool mask, one entry per image, got {got}")
    if selected.device != device and not (selected.device.type == device.type == "cuda" and device.index is None):
        raise NoiseaugInputError(f"{name} is on {selected.device}, but the parameters are drawn on {device}")
    return selected


def one_hot(index: Tensor, size: int) -> Tensor:
    """``F.one_hot(index, size).float()`` for trusted ``(B,)`` indices in ``[0, size)``, without its range check
    (which reads the values on the CPU)."""
    return torch.zeros(index.shape[0], size, device=index.device).scatter_(1, index[:, None], 1.0)


def clamp_unit(noisy: Tensor, clean: Tensor) -> Tensor:
    """``noisy`` clamped to [0, 1]: in place (no new full-size tensor) unless it shares memory with ``clean``
    (or under ``torch.compile``, which fuses the clamp and cannot trace the storage check)."""
    if torch.compiler.is_compiling() or noisy.untyped_storage().data_ptr() == clean.untyped_storage().data_ptr():
        return noisy.clamp(0.0, 1.0)
    return noisy.clamp_(0.0, 1.0)
