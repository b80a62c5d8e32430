"""What one call of a noise transform drew before its noise field: the ``p`` mask and the model's per-sample draws.

:class:`NoiseParams` is the value :meth:`~noiseaug.transforms.base.NoiseTransform.generate_parameters` returns and
:meth:`~noiseaug.transforms.base.NoiseTransform.apply_transform` takes: a frozen container of ``(B, ...)`` tensors, one row
per image, checked against the batch it is applied to (:func:`check_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from ..errors import NoiseaugInputError, NoiseaugTypeError

#: Which rows a call noises: ``"all"`` (``p = 1``; ``selected`` is all True and is not read), ``"none"``
#: (``p = 0``: nothing was drawn, the images pass through) or ``"mask"`` (``selected`` decides).
Gate = Literal["all", "mask", "none"]
GATES = ("all", "mask", "none")

#: What a transform draws per image: ``{name: (dtype, shape of one row)}``
#: (:meth:`~noiseaug.transforms.base.NoiseTransform.parameter_spec`).
ParameterSpec = dict[str, tuple[torch.dtype, tuple[int, ...]]]


@dataclass(frozen=True, eq=False)  # compared by identity: fields are tensors
class NoiseParams:
    """The per-sample parameters of one call of a noise transform (everything but the noise field).

    Attributes:
        transform: the class name of the transform that drew them; another class rejects them.
        selected: ``(B,)`` bool, the images that are noised (the ``p`` mask).
        draws: ``{name: (B, ...) tensor}``, each transform's own draws (its class docs and
            :meth:`~noiseaug.transforms.base.NoiseTransform.parameter_spec` list them, with units). Row ``i``
            belongs to image ``i``; rows of images that are not selected hold values that are not used (zeros
            where the transform draws for the selected rows only, the flows).
        gate: how ``selected`` is read (:data:`Gate`): ``"all"`` when drawn with ``p = 1`` (no mask is read: no
            ``torch.where``, no host sync), ``"none"`` with ``p = 0``, else ``"mask"``.
        inner: the parameters of a wrapped transform (:class:`~noiseaug.transforms.raw_route.RawRouteTransform`'s
            raw transform, on the raw batch), else ``None``.

    Every tensor lives on one device, the device of the images they are applied to. :meth:`selected_rows` is
    derived from ``selected`` (and cached: a flow's parameter step gathers the rows, its one host sync, and the
    noise step reuses them); ``dataclasses.replace(params, selected=...)`` starts a fresh cache.
    """

    transform: str
    selected: Tensor
    draws: Mapping[str, Tensor]
    gate: Gate = "mask"
    inner: NoiseParams | None = None
    _rows: Tensor | None = field(default=None, init=False, repr=False)

    def selected_rows(self) -> Tensor:
        """``(n,)`` long indices of the selected rows (one host sync, the first time only)."""
        if self._rows is None:
            self._cache_rows(self.selected.nonzero().squeeze(1))
        assert self._rows is not None
        return self._rows

    def _cache_rows(self, rows: Tensor) -> NoiseParams:
        object.__setattr__(self, "_rows", rows)  # a cache of a value derived from a frozen field
        return self

    def __len__(self) -> int:
        return self.selected.shape[0]

    @property
    def device(self) -> torch.device:
        return self.selected.device

    def index(self, rows: Tensor) -> NoiseParams:
        """The parameters of the (selected) rows ``rows``, a long index: every one of them is noised."""
        return NoiseParams(
            self.transform,
            self.selected[rows],
            {k: v[rows] for k, v in self.draws.items()},
            "all",
            None if self.inner is None else self.inner.index(rows),
        )

    def to(self, device: torch.device | str) -> NoiseParams:
        """The same parameters on ``device``."""
        moved = NoiseParams(
            self.transform,
            self.selected.to(device),
            {k: v.to(device) for k, v in self.draws.items()},
            self.gate,
            None if self.inner is None else self.inner.to(device),
        )
        return moved if self._rows is None else moved._cache_rows(self._rows.to(device))

    def flat(self, prefix: str = "") -> dict[str, Tensor]:
        """Every tensor under a dotted name (``"selected"``, ``"draws.sigma"``, ``"inner.draws.gains"``, ...)."""
        tensors = {f"{prefix}selected": self.selected, **{f"{prefix}draws.{k}": v for k, v in self.draws.items()}}
        if self.inner is not None:
            tensors.update(self.inner.flat(f"{prefix}inner."))
        return tensors

    def replace_tensors(self, tensors: Mapping[str, Tensor], prefix: str = "") -> NoiseParams:
        """These parameters with the tensors of :meth:`flat`'s names found in ``tensors`` (a host library's params
        dict, possibly edited); the other fields are kept."""
        draws = {k: tensors.get(f"{prefix}draws.{k}", v) for k, v in self.draws.items()}
        inner = None if self.inner is None else self.inner.replace_tensors(tensors, f"{prefix}inner.")
        selected = tensors.get(f"{prefix}selected", self.selected)
        replaced = NoiseParams(self.transform, selected, draws, self.gate, inner)
        return replaced._cache_rows(self._rows) if self._rows is not None and selected is self.selected else replaced


def empty_draws(spec: ParameterSpec, batch: int, device: torch.device) -> dict[str, Tensor]:
    """Zeros for every entry of ``spec``: the draws of a call that draws nothing (``p = 0``, no row selected)."""
    return {name: torch.zeros((batch, *shape), dtype=dtype, device=device) for name, (dtype, shape) in spec.items()}


def scatter_rows(draws: Mapping[str, Tensor], rows: Tensor, batch: int) -> dict[str, Tensor]:
    """Draws made for the rows ``rows`` only, placed in ``(batch, ...)`` zeros at those rows (exact copies)."""
    full = {}
    for name, value in draws.items():
        out = value.new_zeros((batch, *value.shape[1:]))
        out[rows] = value
        full[name] = out
    return full


def check_params(
    params: object, transform: str, spec: ParameterSpec, batch: int, device: torch.device, name: str = "params"
) -> NoiseParams:
    """``params`` as parameters for a ``transform`` call on ``batch`` images on ``device``: from that class, one row
    per image, the names and row shapes of ``spec``, on ``device``. Reads shapes and devices only (no host sync)."""
    if not isinstance(params, NoiseParams):
        raise NoiseaugTypeError(
            f"{name} must be NoiseParams (from {transform}.generate_parameters), got {type(params).__name__}"
        )
    if params.transform != transform:
        raise NoiseaugInputError(
            f"{name} were drawn by a {params.transform}, not a {transform}: draw them with this "
            f"transform's generate_parameters"
        )
    if params.gate not in GATES:
        raise NoiseaugInputError(f"{name}.gate must be one of {GATES}, got {params.gate!r}")
    selected = params.selected
    if not isinstance(selected, Tensor) or selected.dtype != torch.bool or selected.shape != (batch,):
        got = f"{selected.dtype} {tuple(selected.shape)}" if isinstance(selected, Tensor) else type(selected).__name__
        raise NoiseaugInputError(f"{name}.selected must be a ({batch},) bool mask, one row per image, got {got}")
    if sorted(params.draws) != sorted(spec):
        raise NoiseaugInputError(f"{name}.draws hold {sorted(params.draws)}, but this {transform} draws {sorted(spec)}")
    tensors = {"selected": selected, **{f"draws.{k}": v for k, v in params.draws.items()}}
    for key, value in tensors.items():
        if not isinstance(value, Tensor):
            raise NoiseaugTypeError(f"{name}.{key} must be a tensor, got {type(value).__name__}")
        if value.device != device:
            raise NoiseaugInputError(
                f"{name}.{key} is on {value.device}, but the images are on {device}: move the "
                f"parameters with params.to(device)"
            )
    for key, (dtype, shape) in spec.items():
        value = params.draws[key]
        if tuple(value.shape) != (batch, *shape) or value.is_floating_point() != dtype.is_floating_point:
            kind = "float" if dtype.is_floating_point else "integer"
            raise NoiseaugInputError(
                f"{name}.draws[{key!r}] must be a {kind} tensor of shape {(batch, *shape)}, got "
                f"{value.dtype} {tuple(value.shape)}"
            )
    return params
