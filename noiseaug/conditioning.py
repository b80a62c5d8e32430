"""Per-sample conditioning metadata for noise models (ISO, camera, configuration class)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from .errors import NoiseaugInputError, NoiseaugTypeError


@dataclass(frozen=True)
class NoiseCondition:
    """Metadata for a batch, one entry per sample; every field is optional.

    Attributes:
        iso: ``(B,)`` float tensor, ISO speed (e.g. 100 ... 3200).
        camera: ``(B,)`` long tensor, index into a model's camera list.
        config: ``(B,)`` long tensor, index of a camera configuration class (NAFlow).

    Examples:
        >>> import torch
        >>> cond = NoiseCondition(iso=torch.tensor([100.0, 1600.0]), camera=torch.tensor([0, 2]))
        >>> len(cond), cond.index(torch.tensor([1])).iso.tolist()
        (2, [1600.0])
    """

    iso: Tensor | None = None
    camera: Tensor | None = None
    config: Tensor | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not isinstance(value, Tensor):
                raise NoiseaugTypeError(
                    f"NoiseCondition.{f.name} must be a 1-D per-sample tensor or None, got {type(value).__name__}"
                )
        sizes = {f.name: v.shape for f in fields(self) if (v := getattr(self, f.name)) is not None}
        for name, shape in sizes.items():
            if len(shape) != 1:
                raise NoiseaugInputError(
                    f"NoiseCondition.{name} must be a 1-D per-sample tensor, got shape {tuple(shape)}"
                )
        if len({s[0] for s in sizes.values()}) > 1:
            raise NoiseaugInputError(
                f"NoiseCondition fields must all have the batch size, got {dict((k, tuple(v)) for k, v in sizes.items())}"
            )

    def __len__(self) -> int:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                return value.shape[0]
        return 0

    def _map(self, fn) -> NoiseCondition:
        return replace(self, **{f.name: fn(v) for f in fields(self) if (v := getattr(self, f.name)) is not None})

    def index(self, rows: Tensor) -> NoiseCondition:
        """The condition of the selected rows (a long index tensor or a boolean mask)."""
        return self._map(lambda v: v[rows.to(v.device)])

    def to(self, device: torch.device | str) -> NoiseCondition:
        return self._map(lambda v: v.to(device))
