"""Boundary checks shared by every public entry point.

Each failure raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong shape or
values) with a message naming the argument, what was given and what is accepted. Inside the
library the types are trusted.

Checks of *values* (range, NaN/Inf) need the data; on a GPU, reading a result on the host stalls the
asynchronous pipeline. They follow a validation mode (:data:`VALIDATE_MODES`):

* ``"sync"`` (default): read the result on the host and raise a ``ValueError`` naming the argument (on CUDA:
  one host synchronisation per check);
* ``"async"``: queue the check on the tensor's device with ``torch._assert_async`` (no host sync on CUDA).
  A failure surfaces when the device next synchronises, as a device-side assert that leaves the CUDA
  context unusable; on the CPU it raises a ``RuntimeError`` with the same message at once;
* ``"off"``: shapes and dtypes are checked, values are not read.

Shape, dtype and type checks never read data and always raise at once. A function given
``validate=None`` follows the ambient mode set by :func:`validation` (``"sync"`` outside it): the
transforms set it around their own work, so checks nested in the flows and the ISP follow the
transform's ``validate``.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Literal

import torch
from torch import Tensor

from .conditioning import NoiseCondition
from .errors import NoiseaugInputError, NoiseaugTypeError

#: Values may exceed [0, 1] by this much (rounding in low-precision dtypes) before being rejected.
RANGE_TOLERANCE = 1e-4

#: How value checks run (module docs).
Validate = Literal["sync", "async", "off"]
VALIDATE_MODES: tuple[str, ...] = ("sync", "async", "off")

_AMBIENT: ContextVar[str] = ContextVar("noiseaug_validate", default="sync")


def check_validate(value: object, name: str = "validate") -> str:
    """A validation mode: one of :data:`VALIDATE_MODES`."""
    if not isinstance(value, str) or value not in VALIDATE_MODES:
        raise NoiseaugInputError(f"{name} must be one of {VALIDATE_MODES}, got {value!r}")
    return value


def resolve_validate(validate: str | None) -> str:
    """``validate`` itself, or the ambient mode (:func:`validation`) when it is None."""
    return _AMBIENT.get() if validate is None else validate


@contextlib.contextmanager
def validation(mode: str) -> Iterator[None]:
    """Set the ambient validation mode for the checks run inside the block (``validate=None``).

    Examples:
        >>> import torch
        >>> with validation("off"):
        ...     batch, _ = as_batch(torch.full((1, 3, 2, 2), 7.0), "images")  # not read, no error
        >>> resolve_validate(None)
        'sync'
    """
    token = _AMBIENT.set(check_validate(mode))
    try:
        yield
    finally:
        _AMBIENT.reset(token)


def require(
    ok: Tensor, message: str, validate: str | None = None, *, sync_message: Callable[[], str] | None = None
) -> None:
    """Check a boolean scalar tensor ``ok`` under the validation mode (module docs; None: the ambient one).

    ``"sync"``: ``ValueError`` unless ``ok``, with ``sync_message()`` if given (it may read values: it runs
    only on failure) else ``message``; ``"async"``: ``torch._assert_async(ok, message)``; ``"off"``: nothing.
    """
    mode = resolve_validate(validate)
    if mode == "sync":
        if not bool(ok):
            raise NoiseaugInputError(message if sync_message is None else sync_message())
    elif mode == "async":
        torch._assert_async(ok, message)


def check_indices(index: Tensor, size: int, message: str, got: Callable[[], str]) -> None:
    """Integer indices into a list of ``size`` names: ``ValueError(message + got())`` for another dtype (at
    once) or, under the ambient validation mode, for values outside ``[0, size)``."""
    if index.dtype not in (torch.int32, torch.int64):
        raise NoiseaugInputError(message + got())
    require(((index >= 0) & (index < size)).all(), message, sync_message=lambda: message + got())


def as_batch(
    x: object,
    name: str,
    *,
    channels: int | Sequence[int] | None = None,
    unit_range: bool = True,
    finite: bool = True,
    validate: str | None = None,
) -> tuple[Tensor, bool]:
    """Validate an image tensor and return it as ``(B, C, H, W)`` plus whether it was ``(C, H, W)``.

    ``unit_range`` checks values in [0, 1] (clean images); otherwise only finiteness is checked
    (noisy images for likelihood work may leave [0, 1]). One reduction, and in ``"sync"`` mode one host
    sync; ``validate`` (module docs; None: the ambient mode) says how the values are checked. With
    ``unit_range=False, finite=False`` the values are not read at all (no sync: network layers).
    """
    if not isinstance(x, Tensor):
        raise NoiseaugTypeError(
            f"{name} must be a torch.Tensor of shape (B, C, H, W) or (C, H, W), got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise NoiseaugTypeError(
            f"{name} must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}"
            + (" (convert uint8 images with x.float() / 255)" if x.dtype == torch.uint8 else "")
        )
    if x.ndim not in (3, 4):
        raise NoiseaugInputError(f"{name} must have shape (B, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    unbatched = x.ndim == 3
    xb = x.unsqueeze(0) if unbatched else x
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if xb.shape[1] not in allowed:
            raise NoiseaugInputError(
                f"{name} must have {' or '.join(map(str, allowed))} channels, got shape {tuple(x.shape)}"
            )
    if xb.shape[-1] == 0 or xb.shape[-2] == 0:
        raise NoiseaugInputError(f"{name} must have a non-empty spatial size, got shape {tuple(x.shape)}")
    if xb.numel() == 0:
        return xb, unbatched
    mode = resolve_validate(validate)
    if mode != "sync":
        if mode == "async" and (unit_range or finite):
            values = xb.detach()
            if unit_range:  # NaN fails both comparisons, so one check covers finiteness too
                lo, hi = torch.aminmax(values)
                ok = (lo >= -RANGE_TOLERANCE) & (hi <= 1 + RANGE_TOLERANCE)
                torch._assert_async(ok, f"{name} values must be finite and lie in [0, 1]")
            else:
                torch._assert_async(torch.isfinite(values).all(), f"{name} contains NaN or Inf values")
        return xb, unbatched
    if unit_range:
        lo_t, hi_t = torch.aminmax(xb.detach())
        low, high = float(lo_t), float(hi_t)
        if not (-RANGE_TOLERANCE <= low and high <= 1 + RANGE_TOLERANCE):
            if not torch.isfinite(xb).all():
                raise NoiseaugInputError(f"{name} contains NaN or Inf values; images must be finite and in [0, 1]")
            raise NoiseaugInputError(f"{name} values must lie in [0, 1], got min {low:.4g} and max {high:.4g}")
    elif finite and not torch.isfinite(xb.detach()).all():
        raise NoiseaugInputError(f"{name} contains NaN or Inf values")
    return xb, unbatched


def unbatch(x: Tensor, unbatched: bool) -> Tensor:
    """Undo :func:`as_batch`'s added batch dimension."""
    return x[0] if unbatched else x


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise NoiseaugInputError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_condition(cond: object, batch: int, name: str = "cond") -> NoiseCondition | None:
    """Per-sample metadata: ``None`` or a :class:`~noiseaug.NoiseCondition` with one entry per image."""
    if cond is None:
        return None
    if not isinstance(cond, NoiseCondition):
        raise NoiseaugTypeError(f"{name} must be a noiseaug.NoiseCondition or None, got {type(cond).__name__}")
    if len(cond) != batch:
        raise NoiseaugInputError(f"{name} has {len(cond)} entries but the batch has {batch} images; give one per image")
    return cond


def check_device(device: object, name: str = "device") -> torch.device:
    """A torch device (``"cpu"``, ``"cuda:0"``, a ``torch.device``) that exists here."""
    if not isinstance(device, (str, torch.device)):
        raise NoiseaugTypeError(
            f"{name} must be a torch device or its name, such as 'cpu' or 'cuda', got {type(device).__name__}"
        )
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise NoiseaugInputError(f"{name} must be a torch device such as 'cpu' or 'cuda', got {device!r}") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise NoiseaugInputError(f"{name} {str(parsed)!r} was given, but CUDA is not available here; use 'cpu'")
    return parsed


def check_generator(generator: object, device: torch.device, name: str = "generator") -> None:
    """A generator must be a ``torch.Generator`` on the same device type as the data (or None)."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise NoiseaugTypeError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise NoiseaugInputError(
            f"{name} is on device {generator.device}, but the images are on {device}; "
            f"create it with torch.Generator(device={str(device)!r})"
        )


def per_sample(param: Tensor, name: str, like: Tensor) -> Tensor:
    """A ``()`` or ``(B,)`` parameter, cast to ``like``'s device/dtype, shaped to broadcast over ``(B, C, H, W)``."""
    t = param.to(device=like.device, dtype=like.dtype)
    if t.ndim == 0:
        return t
    if t.shape[0] not in (1, like.shape[0]):
        raise NoiseaugInputError(f"{name} has {t.shape[0]} per-sample values but the batch has {like.shape[0]} images")
    return t.view(-1, 1, 1, 1)


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """An integer count or size ``>= minimum`` (numpy integers too), returned as a Python int.

    ``TypeError`` if ``value`` is not an integer (a bool, a float such as ``2.0``, a string, a tensor);
    ``ValueError`` if it is below ``minimum``.
    """
    accepted = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NoiseaugTypeError(f"{name} must be {accepted}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise NoiseaugInputError(f"{name} must be {accepted}, got {value!r}")
    return int(value)


def check_seed(value: object, name: str = "seed") -> int:
    """A seed (or epoch): :func:`check_int` with ``minimum=0``."""
    return check_int(value, name, minimum=0)


def check_real(value: object, name: str, accepted: str) -> float:
    """A real number (numpy scalars too) as a float; ``TypeError`` naming ``accepted`` for bools and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NoiseaugTypeError(f"{name} must be {accepted}, got {type(value).__name__} {value!r}")
    return float(value)


def check_probability(value: object, name: str = "p") -> float:
    """A probability: a real number in [0, 1]; ``TypeError`` for bools and non-numbers, ``ValueError`` for
    values outside (or NaN)."""
    accepted = "a probability in [0, 1]"
    p = check_real(value, name, accepted)
    if not 0.0 <= p <= 1.0:
        raise NoiseaugInputError(f"{name} must be {accepted}, got {value!r}")
    return p


def check_nonnegative(value: object, name: str, *, strict: bool = False) -> float:
    """A finite real number ``>= 0`` (``> 0`` with ``strict``) as a float; ``TypeError`` for bools and
    non-numbers, ``ValueError`` for the rest (NaN and Inf included)."""
    accepted = f"a finite number {'>' if strict else '>='} 0"
    number = check_real(value, name, accepted)
    if not (math.isfinite(number) and (number > 0 if strict else number >= 0)):
        raise NoiseaugInputError(f"{name} must be {accepted}, got {value!r}")
    return number


def check_temperature(value: object) -> float:
    """A sampling temperature: a finite number >= 0 (1 samples the model, 0 is deterministic)."""
    return check_nonnegative(value, "temperature")


def check_parameter(value: float | Tensor, name: str, *, positive: bool = False, nonnegative: bool = False) -> Tensor:
    """Validate a model parameter (scalar or ``(B,)``): finite, and positive/non-negative if asked."""
    if isinstance(value, Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
            raise NoiseaugTypeError(f"{name} must be a real number or a real tensor, got dtype {value.dtype}")
        t = value.detach().to(torch.float64) if not value.is_floating_point() else value.detach()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        t = torch.tensor(float(value), dtype=torch.float64)
    else:
        raise NoiseaugTypeError(f"{name} must be a float or a tensor of shape () or (B,), got {type(value).__name__}")
    if t.ndim > 1:
        raise NoiseaugInputError(
            f"{name} must be a scalar or a per-sample tensor of shape (B,), got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise NoiseaugInputError(f"{name} must be finite, got {value}")
    if positive and not (t > 0).all():
        raise NoiseaugInputError(f"{name} must be > 0, got {value}")
    if nonnegative and not (t >= 0).all():
        raise NoiseaugInputError(f"{name} must be >= 0, got {value}")
    return t


def check_names(names: object, name: str) -> list[str]:
    """A model's own list of names (cameras, configurations): a non-empty list or tuple of distinct strings."""
    if (
        not isinstance(names, (list, tuple))
        or not names
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise NoiseaugInputError(f"{name} must be a non-empty list of distinct names, got {names!r}")
    return list(names)


def check_known_names(given: Sequence[str] | None, known: Sequence[str], name: str) -> list[str]:
    """``given`` names checked against a model's ``known`` ones (``None``: all of them); distinct, non-empty.

    Errors name the argument and list the known names.
    """
    if given is None:
        return list(known)
    if isinstance(given, str) or not isinstance(given, Sequence) or not all(isinstance(c, str) for c in given):
        raise NoiseaugTypeError(
            f"{name} must be a sequence of names (or None for all), got {given!r}; the model knows {list(known)}"
        )
    if not given:
        raise NoiseaugInputError(f"{name} must not be empty; the model knows {list(known)}")
    unknown = [c for c in given if c not in known]
    if unknown:
        raise NoiseaugInputError(f"{name}: unknown {unknown}; the model knows {list(known)}")
    if len(set(given)) != len(given):
        raise NoiseaugInputError(f"{name} must be distinct, got {list(given)}")
    return list(given)
