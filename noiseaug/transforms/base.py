"""The base class of every noise augmentation: validation, ``p``, clipping, generators, row selection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .._validation import as_batch, check_condition, check_generator, check_probability, check_validate, unbatch, \
    validation
from ..conditioning import NoiseCondition
from ..errors import NoiseaugTypeError


class NoiseTransform(nn.Module, ABC):
    """A batched noise augmentation: clean ``(B, C, H, W)`` in [0, 1] in, noisy batch out, one call.

    Subclasses implement :meth:`add_noise` on an already validated batch; this class handles the
    rest so that every transform (parametric or flow) behaves the same:

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
    with ``p < 1`` only the selected rows are computed (one host sync to gather them); cheap
    parametric noise is computed for all rows and selected with ``torch.where`` (no sync).
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

    def forward(self, images: Tensor, cond: NoiseCondition | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        """Return ``images`` with noise added (a new tensor; the input is not modified)."""
        x, unbatched = as_batch(images, "images", channels=self.channels, validate=self._validate)
        check_generator(generator, x.device)
        check_condition(cond, x.shape[0])
        if x.shape[0] == 0 or self.p == 0.0:
            return unbatch(x.clone(), unbatched)
        if self.nested_checks:
            with validation(self._validate):
                noisy = self._noise_batch(x, cond, generator)
        else:
            noisy = self._noise_batch(x, cond, generator)
        if self.clip:
            noisy = clamp_unit(noisy, x)
        return unbatch(noisy, unbatched)

    def _noise_batch(self, x: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None) -> Tensor:
        if self.p == 1.0:
            return self.add_noise(x, cond, generator)
        selected = torch.rand(x.shape[0], generator=generator, device=x.device) < self.p
        return self._noise_selected(x, selected, cond, generator)

    def _noise_selected(self, x: Tensor, selected: Tensor, cond: NoiseCondition | None,
                        generator: torch.Generator | None) -> Tensor:
        return noise_rows(lambda rows, rows_cond: self.add_noise(rows, rows_cond, generator), x, selected, cond,
                          gather=self.compute_selected_rows_only)

    @abstractmethod
    def add_noise(self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None) -> Tensor:
        """Noise every row of a validated ``(B, C, H, W)`` batch; unclipped, same dtype."""

    def extra_repr(self) -> str:
        return f"p={self.p}, clip={self.clip}" + ("" if self._validate == "sync" else f", validate={self._validate!r}")


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


def noise_rows(noise: Callable[[Tensor, NoiseCondition | None], Tensor], x: Tensor, selected: Tensor,
               cond: NoiseCondition | None, *, gather: bool) -> Tensor:
    """Apply ``noise(rows, cond_rows)`` to the rows of ``x`` where the ``(B,)`` bool mask ``selected`` is set.

    ``gather=False`` noises every row and keeps the selected ones with ``torch.where`` (no host sync: for cheap
    noise); ``gather=True`` passes only the selected rows (and their ``cond`` rows) to ``noise``, at the cost of
    one host sync (for flows). The other rows are returned unchanged. Shared by :class:`NoiseTransform` and the
    host-library adapters, which draw the mask themselves.
    """
    if not gather:
        return torch.where(selected.view(-1, 1, 1, 1), noise(x, cond), x)
    rows = selected.nonzero().squeeze(1)
    noisy = x.clone()
    if rows.numel():
        noisy[rows] = noise(x[rows], None if cond is None else cond.index(rows))
    return noisy
