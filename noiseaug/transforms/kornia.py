"""Any noiseaug transform as a kornia augmentation (``IntensityAugmentationBase2D``), for ``AugmentationSequential``."""

from __future__ import annotations

from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor

from .._validation import check_probability
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ._adapter import check_wrapped, seeded_generator
from .base import NoiseTransform, check_call_shape
from .noise_params import NoiseParams

#: Seeds are drawn below this bound (a non-negative int64).
_SEED_BOUND = 2**62
#: Where the wrapped transform's parameters sit in kornia's params dict (``noise.draws.sigma``, ...).
_PREFIX = "noise."


class KorniaNoise(IntensityAugmentationBase2D):
    """Wrap a noiseaug :class:`~noiseaug.transforms.base.NoiseTransform` as a kornia intensity augmentation.

    It runs inside :class:`kornia.augmentation.AugmentationSequential` (or alone) and keeps kornia's
    conventions: ``(B, C, H, W)``, ``(C, H, W)`` or ``(H, W)`` float input, ``keepdim``, masks / boxes /
    keypoints passed through unchanged, and randomness from torch's global RNG (``torch.manual_seed``).

    * ``p``: kornia draws each image's gate (``params["batch_prob"]``); the wrapped transform must be built with
      ``p=1``. In kornia 0.9 ``apply_transform`` receives the whole batch and kornia blends the skipped rows
      back afterwards, so this class hands the wrapped transform only the gated rows when it is a flow
      (``compute_selected_rows_only``); cheap parametric noise is computed for all rows and blended (no sync).
    * ``same_on_batch=True``: one gate for the batch, and every image gets the *same random draws* (noise
      parameters, flow conditioning and latent / normal samples), by running each row with the same seed.
    * Parameters: one 62-bit seed per call is drawn from torch's CPU RNG into ``params["noise_seed"]`` (kornia's
      ``generate_parameters``: the images' device is known only later). ``apply_transform`` runs the wrapped
      transform's parameter step from a generator seeded with it and records the result in the same dict, as
      ``params["noise.draws.<name>"]`` (``noise.inner.draws.<name>`` for a wrapped transform's own; the
      :class:`~noiseaug.transforms.noise_params.NoiseParams` tensors; kornia's ``batch_prob`` is the mask), then
      the noise field continues from that generator. So ``aug(x, params=aug._params)`` replays the exact noise of
      the previous call, on ``x`` or on another batch of the same shape, and edited ``noise.draws.*`` entries are
      used as given (same noise field, other parameters). With ``same_on_batch`` they are one image's
      ``(1, ...)`` parameters.

    The wrapped transform keeps its own options (ranges, ``clip``, ISO / camera sets, ``validate``); it is a
    sub-module, so ``.to(device)`` moves it. With a parametric transform built with ``validate="async"`` or
    ``"off"`` this class adds no host sync of its own on CUDA (the seed is a CPU tensor); kornia's own
    machinery around ``apply_transform`` is kornia's.

    Args:
        transform: the noiseaug transform to wrap (``p`` must be 1).
        p: probability that each image is noised. same_on_batch, keepdim: kornia's usual meaning (see above).

    Examples:
        >>> import torch
        >>> import kornia.augmentation as K
        >>> from noiseaug.transforms import GaussianNoiseTransform
        >>> aug = K.AugmentationSequential(K.RandomHorizontalFlip(),
        ...                                KorniaNoise(GaussianNoiseTransform(sigma=(0.02, 0.1)), p=0.5))
        >>> _ = torch.manual_seed(0)
        >>> clean = torch.rand(4, 3, 16, 16)
        >>> noisy = aug(clean)
        >>> noisy.shape, noisy.dtype, bool(noisy.min() >= 0 and noisy.max() <= 1)
        (torch.Size([4, 3, 16, 16]), torch.float32, True)
        >>> _ = torch.manual_seed(0)
        >>> torch.equal(aug(torch.rand(4, 3, 16, 16)), noisy)  # same seed, same noise
        True
    """

    def __init__(
        self, transform: NoiseTransform, p: float = 1.0, same_on_batch: bool = False, keepdim: bool = False
    ) -> None:
        for name, flag in (("same_on_batch", same_on_batch), ("keepdim", keepdim)):
            if not isinstance(flag, bool):
                raise NoiseaugTypeError(f"KorniaNoise: {name} must be a bool, got {type(flag).__name__}")
        super().__init__(p=check_probability(p), p_batch=1.0, same_on_batch=same_on_batch, keepdim=keepdim)
        self.noise = check_wrapped(transform, "KorniaNoise")

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        return {"noise_seed": _draw_seed()}

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        seed_tensor = params.get("noise_seed")
        if seed_tensor is None:  # hand-made params may lack it
            seed_tensor = _draw_seed()
        seed = int(seed_tensor.reshape(-1)[0])
        selected = None
        if not (self.p == 1.0 and self.p_batch == 1.0):  # kornia's own fast path ignores batch_prob too
            selected = params["batch_prob"].to(input.device, non_blocking=True).reshape(-1) > 0.5
            if selected.shape[0] != input.shape[0]:
                raise NoiseaugInputError(
                    f"params: batch_prob has {selected.shape[0]} entries but the batch has "
                    f"{input.shape[0]} images (params of another call?)"
                )
        generator = seeded_generator(seed, input.device)
        if not self.same_on_batch:
            noise_params = self._noise_parameters(input.shape, params, generator, selected)
            return self.noise(input, generator=generator, params=noise_params)
        # one gate for the batch: a flow skips the work when it is closed (one host sync); cheap noise is
        # computed and blended (no sync)
        if selected is not None and self.noise.compute_selected_rows_only and not bool(selected.any()):
            return input.clone()
        row_params = self._noise_parameters((1, *input.shape[1:]), params, generator, None)
        after = generator.get_state()  # every row starts its noise field from the same state
        noisy = torch.cat(
            [self.noise(row[None], generator=_generator_at(after, input.device), params=row_params) for row in input]
        )
        return noisy if selected is None else torch.where(selected.view(-1, 1, 1, 1), noisy, input)

    def _noise_parameters(
        self, shape: tuple[int, ...], params: dict[str, Tensor], generator: torch.Generator, selected: Tensor | None
    ) -> NoiseParams:
        """The wrapped transform's parameter step, mapped onto kornia's ``params``: drawn from the call's seeded
        generator (which the noise field continues), then overridden by ``params``' own ``noise.draws.*``
        entries (a replayed or edited dict) and recorded into it (kornia keeps that dict as ``_params``)."""
        check_call_shape(self.noise, shape)
        drawn = self.noise.generate_parameters(shape, generator=generator, selected=selected, device=generator.device)
        noise_params = drawn.replace_tensors(params, _PREFIX)
        params.update({k: v for k, v in noise_params.flat(_PREFIX).items() if k != f"{_PREFIX}selected"})
        return noise_params

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(transform={self.noise!r}, p={self.p}, same_on_batch={self.same_on_batch}, "
            f"keepdim={self.keepdim})"
        )


def _generator_at(state: Tensor, device: torch.device) -> torch.Generator:
    """A generator on ``device`` in the saved ``state``."""
    generator = torch.Generator(device=device)
    generator.set_state(state)
    return generator


def _draw_seed() -> Tensor:
    """One seed, as a ``(1,)`` int64 tensor, from torch's global CPU RNG."""
    return torch.randint(_SEED_BOUND, (1,), dtype=torch.long)
