"""NAFlow (Kim, Kim, Lee, ICLR 2024): a conditional flow over sRGB noise with one Gaussian per camera configuration.

The model is a density over the noisy sRGB image ``y`` given the clean image ``x`` (``(B, 3, H, W)``,
[0, 1] scale). The flow runs on the noise ``n = y - x``: a translation by the given ``x`` has unit
Jacobian, so ``p(y | x) = p_n(y - x | x)`` exactly, and the flow starts near the noise distribution
rather than having to learn to subtract the image. Read in the data -> latent direction (sec. 4 and
appendix A.1 of the paper):

* **embedding block**: invertible 1x1 conv, ActNorm;
* **L scale levels**, each: squeeze (space-to-depth by 2), a *transition step* (ActNorm, invertible
  1x1 conv), then K *conditional blocks* (affine coupling conditioned on clean-image features,
  affine injector, transition step);
* a **condition encoder**: a small CNN on the clean image giving features at every level's resolution;
* the latent ``z`` (``(B, 3 * 4^L, H / 2^L, W / 2^L)``) has **one Gaussian per camera configuration**
  ``c`` with learnable mean and diagonal covariance (one value per latent channel, shared over
  positions so any image size works). The NLL of eq. 6 is ``-log N(z; mu_c, Sigma_c) - log|det J|``.

Our reading of the multi-scale design: every dimension passes all L levels (no factored-out
latents), so the deepest level's couplings see 8x8-pixel neighbourhoods of noise, which is how
spatially correlated sRGB noise is represented. Widths are configurable; the paper's are larger.

Sampling: a named configuration (``cond.config``), a mixture of configuration Gaussians (mean and
covariance mixed with weights, as in Alg. 1), **noise-aware sampling**: the weights are the tempered
posterior over configurations of a reference noisy/clean pair (:meth:`NAFlow.posterior`), or, beyond the
paper, a latent Gaussian fitted to the reference's own latent (:meth:`NAFlow.fit_latent`; optionally with a std
that follows the clean image's brightness, :mod:`.latent_fit`).
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._sizes import crop_to_multiple
from .._validation import (
    as_batch,
    check_condition,
    check_generator,
    check_indices,
    check_int,
    check_names,
    check_nonnegative,
    check_same_shape,
    check_temperature,
    require,
    unbatch,
)
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError
from ..hub import PretrainedMixin, register_model
from ..noise.base import LOG_2PI, NoiseModel, standard_normal_like
from .latent_fit import LatentGaussian, fit_latent_gaussian, latent_brightness
from .layers import (
    ActNorm,
    AffineCoupling,
    AffineInjector,
    FlowCondition,
    InvConv1x1,
    Squeeze,
    cached_inverses,
    run_forward,
    run_inverse,
)
from .tiling import DEFAULT_MAX_PIXELS, decode_within_budget

SRGB_CHANNELS = 3
#: the reference pair's argument names, for the errors of the sample_* methods
REFERENCE_NAMES = ("reference_noisy", "reference_clean")


def transition_step(channels: int, seed: int) -> list[nn.Module]:
    """SRFlow's transition step: ActNorm then an invertible 1x1 conv (no coupling)."""
    return [ActNorm(channels), InvConv1x1(channels, seed=seed)]


class ConditionEncoder(nn.Module):
    """``encoder="cnn"`` (ours): clean image -> one feature map per level, at ``H / 2^l`` for ``l = 1 .. levels``,
    through a learned CNN (two 3x3 convs, then per level a strided 3x3 conv and a 3x3 conv, ReLUs)."""

    def __init__(self, features: int, levels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(SRGB_CHANNELS, features, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(),
        )
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(features, features, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(features, features, 3, padding=1),
                nn.ReLU(),
            )
            for _ in range(levels)
        )

    def forward(self, clean: Tensor) -> list[Tensor]:
        h = self.stem(clean)
        out = []
        for block in self.down:
            h = block(h)
            out.append(h)
        return out


class UnshuffleConditionEncoder(nn.Module):
    """``encoder="unshuffle"`` (the paper's): at level ``l`` the clean image is space-to-depth downsampled by
    ``2^l`` (pixel-unshuffle, ``3 * 4^l`` channels at ``H / 2^l``) and mapped to ``features`` channels by two
    1x1 convolutions with ReLUs; each level's features see exactly its own ``2^l x 2^l`` block of pixels."""

    def __init__(self, features: int, levels: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(SRGB_CHANNELS * 4**level, features, 1), nn.ReLU(), nn.Conv2d(features, features, 1), nn.ReLU()
            )
            for level in range(1, levels + 1)
        )

    def forward(self, clean: Tensor) -> list[Tensor]:
        return [block(F.pixel_unshuffle(clean, 2**level)) for level, block in enumerate(self.levels, start=1)]


#: the condition encoders by name (``NAFlow(encoder=...)``)
ENCODERS: dict[str, type[nn.Module]] = {"cnn": ConditionEncoder, "unshuffle": UnshuffleConditionEncoder}


@register_model
class NAFlow(NoiseModel, PretrainedMixin):
    """NAFlow: sRGB noise given the clean image, with a Gaussian latent per camera configuration.

    Args:
        configurations: names of the camera configurations (e.g. ``"d800-iso3200"``);
            ``cond.config`` indexes this list.
        levels: scale levels L (the paper: 3). Images need H and W divisible by ``2**levels``
            (:class:`~noiseaug.transforms.naflow.NAFlowTransform` pads and crops for you).
        blocks: conditional blocks K per level (the paper: 2).
        hidden: width of the coupling and injector networks.
        features: channels of the condition encoder's features.
        scale_floor: the couplings' and injectors' scales live in ``(scale_floor, 1)``
            (:func:`~noiseaug.flows.layers._scale`); 0 is Glow/SRFlow's ``sigmoid(raw + 2)``. The default
            0.5 bounds what sampling can amplify per layer; with 0, samples on clean content unlike the
            training crops (saturated regions) overflowed to Inf/NaN in about 1 % of BSD300 crops.
        encoder: how the couplings and injectors see the clean image: ``"unshuffle"`` is the paper's
            (pixel-unshuffle to each level's resolution, then 1x1 convolutions;
            :class:`UnshuffleConditionEncoder`), ``"cnn"`` ours (a learned strided 3x3 CNN;
            :class:`ConditionEncoder`, the only one before this option existed).

    Memory: sampling decodes in tiles when the batch holds more than ``max_pixels`` pixels (an attribute,
    default 4 Mpx; :mod:`~noiseaug.flows.tiling`), each with ``tile_overlap`` = 48 pixels of context (how far the
    tiles then differ from whole-image decoding: ``benchmarks/tile_overlap.py``, docs/results.md). Likelihoods
    are never tiled.

    Examples:
        >>> import torch
        >>> from noiseaug import NoiseCondition
        >>> flow = NAFlow(configurations=["a-iso100", "b-iso3200"], hidden=8, features=4)
        >>> clean = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> cond = NoiseCondition(config=torch.tensor([0, 1]))
        >>> noisy = flow.sample(clean, cond, generator=torch.Generator().manual_seed(1))
        >>> flow.nll(noisy, clean, cond).shape, flow.classify(noisy, clean).shape
        (torch.Size([2]), torch.Size([2, 2]))
    """

    model_type = "naflow"
    #: configs saved before ``scale_floor`` existed describe Glow's unfloored scale
    legacy_config_defaults = {"scale_floor": 0.0, "encoder": "cnn"}
    channels = (SRGB_CHANNELS,)
    #: context (pixels) around each tile's core when sampling is tiled (class docs)
    tile_overlap = 48

    def __init__(
        self,
        configurations: list[str],
        levels: int = 3,
        blocks: int = 2,
        hidden: int = 64,
        features: int = 32,
        scale_floor: float = 0.5,
        encoder: str = "cnn",
    ) -> None:
        super().__init__()
        check_names(configurations, "configurations")
        if encoder not in ENCODERS:
            raise NoiseaugInputError(f"encoder must be one of {list(ENCODERS)}, got {encoder!r}")
        for name, value in (("levels", levels), ("blocks", blocks), ("hidden", hidden), ("features", features)):
            check_int(value, name)
        self.configurations = list(configurations)
        self.levels, self.blocks, self.hidden, self.features = levels, blocks, hidden, features
        self.scale_floor = float(scale_floor)
        self.embedding = nn.ModuleList([InvConv1x1(SRGB_CHANNELS, seed=0), ActNorm(SRGB_CHANNELS)])
        self.scales = nn.ModuleList()
        channels, seed = SRGB_CHANNELS, 1
        for _ in range(levels):
            channels *= 4
            layers: list[nn.Module] = [Squeeze(), *transition_step(channels, seed)]
            for _ in range(blocks):
                seed += 1
                layers += [
                    AffineCoupling(channels, hidden, cond_channels=features, scale_floor=scale_floor),
                    AffineInjector(channels, features, hidden, scale_floor=scale_floor),
                    *transition_step(channels, seed),
                ]
            self.scales.append(nn.ModuleList(layers))
            seed += 1
        self.encoder_name = encoder
        self.encoder = ENCODERS[encoder](features, levels)
        self.latent_channels = channels
        self.means = nn.Parameter(torch.zeros(len(configurations), channels))
        self.log_stds = nn.Parameter(torch.zeros(len(configurations), channels))
        self.max_pixels = DEFAULT_MAX_PIXELS

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the architecture (saved as config.json)."""
        return {
            "model_type": self.model_type,
            "configurations": self.configurations,
            "levels": self.levels,
            "blocks": self.blocks,
            "hidden": self.hidden,
            "features": self.features,
            "scale_floor": self.scale_floor,
            "encoder": self.encoder_name,
        }

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (``2 ** levels``)."""
        return 2**self.levels

    def _check_size(self, x: Tensor, name: str) -> None:
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise NoiseaugInputError(
                f"{name}: NAFlow with {self.levels} levels needs H and W divisible by {self.multiple}, "
                f"got {tuple(x.shape[-2:])}; NAFlowTransform pads and crops for you"
            )

    def config_index(self, cond: NoiseCondition | None, batch: int, device: torch.device) -> Tensor:
        """``cond.config`` validated: ``(B,)`` long indices into :attr:`configurations`."""
        cond = check_condition(cond, batch)
        if cond is None or cond.config is None:
            raise NoiseaugInputError(
                "NAFlow needs cond=NoiseCondition(config=...) with one configuration index per image "
                "(or use sample_mixture / sample_noise_aware)"
            )
        given = cond.config
        config = given.to(device)
        check_indices(
            config,
            len(self.configurations),
            f"cond.config must hold integer indices into {self.configurations}",
            lambda: f", got {given.tolist()}",
        )
        return config.long()

    def encode(self, noise: Tensor, clean: Tensor) -> tuple[Tensor, Tensor]:
        """Noise -> latent ``z`` ``(B, 3 * 4^L, H / 2^L, W / 2^L)`` and per-sample log |det|."""
        self._check_size(noise, "noise")
        z, logdet = run_forward(self.embedding, noise, None)
        for layers, features in zip(self.scales, self.encoder(clean), strict=True):
            z, ld = run_forward(cast(nn.ModuleList, layers), z, FlowCondition(features=features))
            logdet = logdet + ld
        return z, logdet

    def decode(self, z: Tensor, clean: Tensor) -> Tensor:
        """Latent -> noise, given the clean image."""
        self._check_size(clean, "clean")
        for layers, features in reversed(list(zip(self.scales, self.encoder(clean), strict=True))):
            z = run_inverse(layers, z, FlowCondition(features=features))
        return run_inverse(self.embedding, z, None)

    def latent_log_prob(self, z: Tensor) -> Tensor:
        """``(B, N_configurations)``: ``log N(z; mu_c, Sigma_c)`` summed over the latent, for every ``c``.

        Uses per-channel sums of ``z`` and ``z^2`` over positions, so it costs ``O(B * N * C)``
        beyond one pass over ``z``; computed in float64.
        """
        z64 = z.double().flatten(2)
        positions = z64.shape[-1]
        s1, s2 = z64.sum(-1), z64.square().sum(-1)  # (B, C)
        mean, log_std = self.means.double(), self.log_stds.double()  # (N, C)
        inv_var = (-2 * log_std).exp()
        quad = (s2[:, None] - 2 * mean[None] * s1[:, None] + positions * mean[None].square()) * inv_var[None]
        return (-0.5 * (positions * (LOG_2PI + 2 * log_std)[None] + quad)).sum(-1)

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        self._check_size(clean, "clean")
        noisy, clean = noisy.to(self.means.dtype), clean.to(self.means.dtype)
        config = self.config_index(cond, clean.shape[0], clean.device)
        z, logdet = self.encode(noisy - clean, clean)
        mean = self.means[config][:, :, None, None]
        log_std = self.log_stds[config][:, :, None, None]
        log_pz = -0.5 * (LOG_2PI + 2 * log_std + ((z - mean) * (-log_std).exp()).square())
        return log_pz.flatten(1).sum(1) + logdet

    def _check_reference(
        self, noisy: Tensor, clean: Tensor, names: tuple[str, str] = ("noisy", "clean")
    ) -> tuple[Tensor, Tensor, bool]:
        """Reference pair(s) as batches of the same shape; errors name the arguments ``names``."""
        clean_b, unbatched = as_batch(clean, names[1], channels=self.channels)
        noisy_b, _ = as_batch(noisy, names[0], unit_range=False)
        check_same_shape(noisy_b, clean_b, *names)
        return noisy_b, clean_b, unbatched

    def _reference_latent(self, noisy: Tensor, clean: Tensor, what: str) -> tuple[Tensor, Tensor, Tensor]:
        """The latent ``z`` of validated reference batches (:meth:`_check_reference`) cropped (top-left) to a
        multiple of ``2 ** levels``, and the cropped pair in the flow's dtype."""
        if min(clean.shape[-2:]) < self.multiple:
            raise NoiseaugInputError(
                f"{what} needs images of at least {self.multiple}x{self.multiple}, got {tuple(clean.shape[-2:])}"
            )
        noisy, clean = (crop_to_multiple(t, self.multiple).to(self.means.dtype) for t in (noisy, clean))
        z, _ = self.encode(noisy - clean, clean)
        return z, noisy, clean

    @torch.no_grad()
    def classify(self, noisy: Tensor, clean: Tensor) -> Tensor:
        """Exact posterior ``(B, N_configurations)`` (``(N,)`` for one ``(3, H, W)`` pair) over configurations
        (uniform prior): the flow as a generative classifier, ``softmax_c log p(noisy | clean, c)``; rows sum to 1.

        The log-likelihoods are sums over every latent dimension, so on real images one configuration
        takes all the weight; :meth:`posterior` is the tempered version that noise-aware sampling uses.
        H and W are cropped (top-left) to a multiple of ``2 ** levels`` so any size works.
        """
        noisy, clean, unbatched = self._check_reference(noisy, clean)
        z, _, _ = self._reference_latent(noisy, clean, "classify")
        return unbatch(self.latent_log_prob(z).softmax(-1).to(clean.dtype), unbatched)

    def posterior(self, noisy: Tensor, clean: Tensor, temperature: float = 1.0) -> Tensor:
        """Noise-aware sampling's weights ``(B, N)`` (``(N,)`` for one pair): ``softmax_c(log p(noisy | clean, c)
        / (P * temperature))`` with ``P`` the number of latent positions (``H W / 4^L``).

        Dividing by ``P`` makes the logits per-position log-likelihoods, as the authors' code does, so
        configurations of similar noise share the weight (the mixture of Alg. 1) instead of the exact
        posterior's one-hot (:meth:`classify`, i.e. ``temperature = 1 / P``). ``temperature`` must be
        >= 0; 0 puts all the weight on the most likely configuration (Rank-1 sampling).
        """
        temperature = check_temperature(temperature)
        noisy, clean, unbatched = self._check_reference(noisy, clean)
        return unbatch(self._posterior(noisy, clean, temperature), unbatched)

    @torch.no_grad()
    def _posterior(self, noisy: Tensor, clean: Tensor, temperature: float) -> Tensor:
        """:meth:`posterior` of validated ``(B, 3, H, W)`` reference batches, ``(B, N)``."""
        z, _, _ = self._reference_latent(noisy, clean, "posterior")
        log_p = self.latent_log_prob(z)
        if temperature == 0:
            weights = F.one_hot(log_p.argmax(-1), len(self.configurations)).double()
        else:
            weights = (log_p / (z[0, 0].numel() * temperature)).softmax(-1)
        return weights.to(clean.dtype)

    def fit_latent(
        self, noisy: Tensor, clean: Tensor, match_std: bool = True, signal_dependent: bool = False
    ) -> LatentGaussian:
        """Latent Gaussian of reference pair(s), fitted by maximum likelihood to the reference noise's latent (pooled
        over positions and the reference batch): per-channel ``mean`` and ``std`` ``(C,)``; with
        ``signal_dependent=True`` the std is that at mid-grey and ``slope`` ``(C,)`` the change of its log with
        the clean image's local brightness (:mod:`~noiseaug.flows.latent_fit`), else ``slope`` is ``None``.

        Beyond the paper: unlike a mixture of the trained configurations, the fitted Gaussian follows
        a reference noisier (or cleaner) than any of them; the slope follows the signal dependence that the
        flow leaves in an unseen camera's latent, but it is fitted to the reference's own content and need not
        carry over to other images (off by default; docs/results.md measures both). The diagonal fit drops the
        correlations of the reference's latent, so decoded noise can be stronger or weaker than the reference's when its
        structure differs from the training noise; ``match_std`` (default) then multiplies the fitted std
        by the factor in [1/8, 8] (bisection in log space, 12 steps, one fixed latent draw) at which noise
        decoded on the reference's clean image (clipped to [0, 1] when the reference noisy image is) has the
        reference noise's standard deviation; decoding is far from linear in the latent's scale outside
        the training noise levels, so a single rescaling step does not converge.
        ``ValueError`` if the reference has no noise.
        """
        noisy, clean, _ = self._check_reference(noisy, clean)
        return self._fit_latent(noisy, clean, match_std, signal_dependent)

    @torch.no_grad()
    def _fit_latent(
        self, noisy: Tensor, clean: Tensor, match_std: bool, signal_dependent: bool = False
    ) -> LatentGaussian:
        """:meth:`fit_latent` of validated ``(B, 3, H, W)`` reference batches."""
        if not bool((noisy != clean).any()):
            raise NoiseaugInputError(
                "reference noisy and clean images are identical: the reference has no noise to fit"
            )
        z, noisy, clean = self._reference_latent(noisy, clean, "fit_latent")
        brightness = latent_brightness(clean, self.multiple) if signal_dependent else None
        fit = fit_latent_gaussian(z, brightness)
        return fit.scaled(self._std_factor(noisy, clean, fit, brightness)) if match_std else fit

    def _std_factor(
        self, noisy: Tensor, clean: Tensor, fit: LatentGaussian, brightness: Tensor | None, steps: int = 12
    ) -> float:
        """The factor ``k`` in ``[1/8, 8]`` at which ``fit.scaled(k)``'s latents (one fixed standard normal draw, on
        ``clean``'s latent ``brightness`` when ``fit`` has a slope) decode on ``clean`` (cropped to the flow's
        multiple, in its dtype) to noise of ``noisy - clean``'s std (see :meth:`fit_latent`); bisection on
        ``log k``."""
        target = float((noisy - clean).std())
        clipped = bool(noisy.min() >= 0) and bool(noisy.max() <= 1)
        eps = standard_normal_like(
            clean.new_empty(self._latent_shape(clean)), torch.Generator(device=clean.device).manual_seed(0)
        )

        def too_strong(log_k: float) -> bool:
            decoded = clean + self._decode(fit.draw(eps, brightness, math.exp(log_k)), clean)
            return float(((decoded.clamp(0, 1) if clipped else decoded) - clean).std()) > target

        low, high = -math.log(8), math.log(8)
        if too_strong(low):
            return 1 / 8
        if not too_strong(high):
            return 8.0
        for _ in range(steps):
            middle = (low + high) / 2
            low, high = (low, middle) if too_strong(middle) else (middle, high)
        return math.exp((low + high) / 2)

    def mixture(self, weights: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and std ``(B, C)`` of the Gaussian whose mean and covariance are the ``weights``-mix of the
        configurations' (Alg. 1): ``mu = sum_c w_c mu_c``, ``Sigma = sum_c w_c Sigma_c``."""
        if weights.ndim != 2 or weights.shape[1] != len(self.configurations):
            raise NoiseaugInputError(
                f"weights must be (B, {len(self.configurations)}), got shape {tuple(weights.shape)}"
            )
        require((torch.isfinite(weights) & (weights >= 0)).all(), "weights must be finite and non-negative")
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1e-12)
        w = weights.to(self.means.dtype)
        return w @ self.means, (w @ (2 * self.log_stds).exp()).sqrt()

    def sample_mixture(
        self, clean: Tensor, weights: Tensor, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """Noisy images for ``clean`` ``(B, 3, H, W)`` (or ``(3, H, W)``) with latents from the ``weights``-mixed
        Gaussian ``(B, N)``."""
        x, unbatched = as_batch(clean, "clean", channels=self.channels)
        check_generator(generator, x.device)
        return unbatch(self._sample_mixture(x, weights, generator, check_temperature(temperature)), unbatched)

    def sample_noise_aware(
        self,
        clean: Tensor,
        reference_noisy: Tensor,
        reference_clean: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        posterior_temperature: float = 1.0,
    ) -> Tensor:
        """Noise-aware sampling (Alg. 1): weights from a reference pair's :meth:`posterior` (at
        ``posterior_temperature``), then :meth:`sample_mixture` (at ``temperature``).

        One reference (batch 1 or ``(3, H, W)``) serves every target; otherwise reference and target
        batches must match.
        """
        x, unbatched = as_batch(clean, "clean", channels=self.channels)
        check_generator(generator, x.device)
        temperature = check_temperature(temperature)
        posterior_temperature = check_nonnegative(posterior_temperature, "posterior_temperature")
        reference = self._check_reference(reference_noisy, reference_clean, REFERENCE_NAMES)[:2]
        weights = self._posterior(*reference, posterior_temperature)
        if weights.shape[0] == 1:
            weights = weights.expand(x.shape[0], -1)
        elif weights.shape[0] != x.shape[0]:
            raise NoiseaugInputError(f"reference batch {weights.shape[0]} must be 1 or the target batch {x.shape[0]}")
        return unbatch(self._sample_mixture(x, weights, generator, temperature), unbatched)

    def sample_fitted(
        self,
        clean: Tensor,
        reference_noisy: Tensor,
        reference_clean: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        signal_dependent: bool = False,
    ) -> Tensor:
        """Noise like the reference pair(s)' through the latent Gaussian fitted to them (:meth:`fit_latent`, std
        matched, ``signal_dependent`` as there), for every image of ``clean`` ``(B, 3, H, W)`` (or ``(3, H, W)``);
        a signal-dependent std follows each target's own brightness."""
        x, unbatched = as_batch(clean, "clean", channels=self.channels)
        check_generator(generator, x.device)
        temperature = check_temperature(temperature)
        reference = self._check_reference(reference_noisy, reference_clean, REFERENCE_NAMES)[:2]
        fit = self._fit_latent(*reference, match_std=True, signal_dependent=signal_dependent)
        return unbatch(self._sample_gaussian(x, fit, generator, temperature), unbatched)

    def _sample_mixture(
        self, clean: Tensor, weights: Tensor, generator: torch.Generator | None, temperature: float | Tensor
    ) -> Tensor:
        """:meth:`sample_mixture` on a validated ``(B, 3, H, W)`` batch (what the transform calls: it has
        validated the images already); the flow runs in its parameters' dtype."""
        mean, std = self.mixture(weights.to(clean.device))
        return self._sample_gaussian(clean, LatentGaussian(mean, std), generator, temperature)

    def _sample_gaussian(
        self, clean: Tensor, latent: LatentGaussian, generator: torch.Generator | None, temperature: float | Tensor
    ) -> Tensor:
        """``clean`` plus the decoded noise of latents drawn from ``latent`` (fields ``(C,)`` or ``(B, C)``;
        :meth:`~noiseaug.flows.latent_fit.LatentGaussian.draw` at ``temperature``, one number or ``(B,)``, on
        ``clean``'s brightness)."""
        self._check_size(clean, "clean")
        x = clean.to(self.means.dtype)
        eps = standard_normal_like(x.new_empty(self._latent_shape(x)), generator)
        brightness = None if latent.slope is None else latent_brightness(x, self.multiple)
        z = latent.draw(eps, brightness, temperature)
        return clean + self._decode(z, x).to(clean.dtype)

    def _decode(self, z: Tensor, clean: Tensor) -> Tensor:
        """:meth:`decode` within ``max_pixels`` (tiled with ``tile_overlap`` of context; :mod:`.tiling`), each
        1x1 convolution inverted once for the call (:func:`~noiseaug.flows.layers.cached_inverses`)."""
        with cached_inverses(self):
            return decode_within_budget(
                lambda z_part, clean_part, _: self.decode(z_part, clean_part),
                z,
                clean,
                max_pixels=self.max_pixels,
                overlap=self.tile_overlap,
            )

    def _latent_shape(self, clean: Tensor) -> tuple[int, int, int, int]:
        b, _, h, w = clean.shape
        return b, self.latent_channels, h // self.multiple, w // self.multiple

    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        config = self.config_index(cond, clean.shape[0], clean.device)
        weights = F.one_hot(config, len(self.configurations)).to(self.means.dtype)
        return self._sample_mixture(clean, weights, generator, temperature)

    def extra_repr(self) -> str:
        return (
            f"configurations={len(self.configurations)}, levels={self.levels}, blocks={self.blocks}, "
            f"hidden={self.hidden}, features={self.features}, encoder={self.encoder_name!r}"
        )
