"""NAFlow as a batched sRGB augmentation: realistic camera noise for any clean batch, no metadata needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .._sizes import pad_to_multiple
from .._validation import as_batch, check_known_names, check_nonnegative, check_temperature
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..flows.latent_fit import LatentGaussian
from ..flows.naflow import NAFlow
from ..noise.tone_curve import tone_curve_shift
from .base import NoiseTransform, Shape, one_hot
from .flow_precision import flow_dtype, sample_in_flow_precision
from .noise_params import NoiseParams, ParameterSpec
from .params import ParamRange, as_range

MODES = ("random", "configuration", "reference")
#: how ``mode="reference"`` turns the reference pair(s) into a latent Gaussian
REFERENCE_METHODS = ("nas", "fitted")
#: fitting a bank of more references than this shows a progress bar (``per_reference=True``)
PROGRESS_MIN_REFERENCES = 4

#: reference images: one tensor, or (``per_reference=True``) a sequence of tensors, one reference each
References = Tensor | Sequence[Tensor]


class NAFlowTransform(NoiseTransform):
    """Add NAFlow sRGB noise to clean ``(B, 3, H, W)`` images in [0, 1] (``(3, H, W)`` works too).

    Modes (how each image's latent Gaussian is chosen):

    * ``"random"`` (the augmentation default): a configuration drawn uniformly per image from
      ``configurations``; with ``mixture=True`` a random mixture instead (Dirichlet(1) weights over them);
    * ``"configuration"``: the call's ``cond.config`` (indices into ``model.configurations``), or the single
      name given in ``configurations``;
    * ``"reference"``: every image is noised like the ``reference=(noisy, clean)`` pair(s), by
      ``reference_method``:

      - ``"nas"``: noise-aware sampling (Alg. 1 of the paper): the mixture weights are the model's tempered
        posterior over configurations (:meth:`~noiseaug.flows.naflow.NAFlow.posterior` at
        ``posterior_temperature``; 0 is Rank-1, the most likely configuration alone), averaged over the
        reference batch;
      - ``"fitted"`` (beyond the paper): the latent Gaussian fitted by maximum likelihood to the reference's
        own latent (:meth:`~noiseaug.flows.naflow.NAFlow.fit_latent`: one std per latent channel, or, with
        ``signal_dependent=True``, a std that follows each image's local brightness), which also follows a
        camera or ISO noisier than every trained configuration. With
        ``per_reference=True`` the references are a bank: one latent Gaussian is fitted to each reference pair
        (:meth:`set_reference` takes a list of pairs of any sizes, or a batch whose rows are the pairs), and
        each image draws one of them uniformly; without it (the default) the pairs are pooled into one fit.

    ``temperature`` scales every latent's std (1 samples the model, 0 decodes the mean): one number, or a range
    (``(low, high)`` or :class:`~noiseaug.transforms.params.ParamRange`, e.g. log-uniform) that each image draws
    its own temperature from, a strength augmentation around the chosen latent.

    ``tone_shift`` (beyond the paper; default 0, off) adds a concave tone curve's second-order term to the
    sampled noise ``n``: ``n - tone_shift * n ** 2 / max(clean, 0.05)``
    (:func:`~noiseaug.noise.tone_curve.tone_curve_shift`), which darkens the noisy image by an amount that
    grows with the noise's power and in the shadows, as a camera's sRGB rendering does.

    Any H and W: the flow needs multiples of ``2 ** levels`` (8 for the released model), so the batch is
    padded at the bottom and right by reflection, noised, and cropped back; the padded border's noise is
    discarded, and the last rows and columns see mirrored content as context.

    Precision and rows: as :class:`~noiseaug.transforms.noise_flow.NoiseFlowTransform`: the flow runs in
    its parameters' dtype with autocast off and no autograd graph, the output has the input's shape, dtype
    and device; with ``p < 1`` only selected rows reach the flow. Draw order: ``p`` mask, configurations
    (or mixture weights, or the bank's reference), temperatures (a range only), latent.

    Parameters (``params.draws``), by mode: ``config``, ``(B,)`` long indices into ``model.configurations``
    (``"random"`` without ``mixture``, ``"configuration"``); ``weights``, ``(B, N_configurations)`` float
    mixture weights summing to 1 (``"random"`` with ``mixture``, ``"reference"`` with ``"nas"``); ``mean`` and
    ``std``, ``(B, latent channels)``, the latent Gaussian (``"reference"`` with ``"fitted"``), and with
    ``per_reference=True`` also ``reference``, ``(B,)`` long indices of the bank's references they belong to
    (informative: replaying reads ``mean`` and ``std``); with a ``temperature`` range, in every mode, also
    ``temperature``, ``(B,)`` float32. With ``p < 1`` only the selected rows are drawn (the
    others hold zeros).

    Large images: a call holding more than ``model.max_pixels`` pixels (default 4 Mpx) is decoded a few
    images at a time or in tiles with 48 pixels of context; see :class:`~noiseaug.flows.naflow.NAFlow`.

    Examples:
        >>> import torch
        >>> from noiseaug.flows.naflow import NAFlow
        >>> flow = NAFlow(configurations=["a-iso100", "b-iso3200"], hidden=8, features=4)
        >>> transform = NAFlowTransform(flow, p=0.5)
        >>> clean = torch.rand(4, 3, 30, 21, generator=torch.Generator().manual_seed(0))
        >>> noisy = transform(clean, generator=torch.Generator().manual_seed(1))
        >>> noisy.shape, bool(noisy.min() >= 0 and noisy.max() <= 1)
        (torch.Size([4, 3, 30, 21]), True)
        >>> like_ref = NAFlowTransform(flow, mode="reference", reference=(clean[:1] + 0.05, clean[:1]))
        >>> like_ref(clean).shape
        torch.Size([4, 3, 30, 21])
        >>> fitted = NAFlowTransform(flow, mode="reference", reference_method="fitted", reference=(clean[:1] + 0.05, clean[:1]))
        >>> fitted(clean).shape
        torch.Size([4, 3, 30, 21])
        >>> pairs = [clean[0], clean[1, :, :16, :16]]  # a bank of two references of different sizes
        >>> bank = NAFlowTransform(flow, mode="reference", reference_method="fitted", per_reference=True,
        ...                        reference=([c + 0.05 for c in pairs], pairs))
        >>> tuple(bank.reference_mean.shape) == (2, flow.latent_channels)
        True
        >>> params = bank.generate_parameters(clean.shape, generator=torch.Generator().manual_seed(2))
        >>> params.draws["reference"].tolist()  # the reference each image follows
        [0, 1, 1, 0]
        >>> spread = NAFlowTransform(flow, temperature=(0.5, 2.0))  # one latent temperature per image
        >>> spread.generate_parameters(clean.shape, generator=torch.Generator().manual_seed(3)).draws["temperature"].shape
        torch.Size([4])
    """

    channels = (3,)
    compute_selected_rows_only = True
    nested_checks = True  # validate: the images and the model's checks (NoiseTransform)
    config_choices: Tensor
    reference_weights: Tensor
    reference_mean: Tensor
    reference_std: Tensor
    reference_slope: Tensor

    def __init__(
        self,
        model: NAFlow,
        mode: Literal["random", "configuration", "reference"] = "random",
        configurations: Sequence[str] | None = None,
        mixture: bool = False,
        reference: tuple[References, References] | None = None,
        temperature: float | tuple[float, float] | ParamRange = 1.0,
        p: float = 1.0,
        clip: bool = True,
        reference_method: Literal["nas", "fitted"] = "nas",
        posterior_temperature: float = 1.0,
        validate: str = "sync",
        per_reference: bool = False,
        signal_dependent: bool = False,
        tone_shift: float = 0.0,
    ) -> None:
        super().__init__(p=p, clip=clip, validate=validate)
        if not isinstance(model, NAFlow):
            raise NoiseaugTypeError(f"model must be an NAFlow, got {type(model).__name__}")
        if mode not in MODES:
            raise NoiseaugInputError(f"mode must be one of {MODES}, got {mode!r}")
        if not isinstance(mixture, bool):
            raise NoiseaugTypeError(f"mixture must be a bool, got {type(mixture).__name__}")
        if reference_method not in REFERENCE_METHODS:
            raise NoiseaugInputError(f"reference_method must be one of {REFERENCE_METHODS}, got {reference_method!r}")
        for name, flag in (("per_reference", per_reference), ("signal_dependent", signal_dependent)):
            if not isinstance(flag, bool):
                raise NoiseaugTypeError(f"{name} must be a bool, got {type(flag).__name__}")
        if per_reference and (mode, reference_method) != ("reference", "fitted"):
            raise NoiseaugInputError(
                f"per_reference=True needs mode='reference' and reference_method='fitted', got mode={mode!r} "
                f"and reference_method={reference_method!r}"
            )
        self.per_reference, self.signal_dependent = per_reference, signal_dependent
        self.model, self.mode, self.mixture, self.reference_method = model, mode, mixture, reference_method
        self.temperature = temperature_spec(temperature)
        self.posterior_temperature = check_nonnegative(posterior_temperature, "posterior_temperature")
        self.tone_shift = check_nonnegative(tone_shift, "tone_shift")
        self.configurations = check_known_names(configurations, model.configurations, "configurations")
        if mode == "configuration" and configurations is not None and len(self.configurations) != 1:
            raise NoiseaugInputError(
                f"mode='configuration' takes one name in configurations (or cond.config per call), "
                f"got {self.configurations}"
            )
        rows = [model.configurations.index(c) for c in self.configurations]
        self.register_buffer("config_choices", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.register_buffer("reference_weights", torch.zeros(0), persistent=False)
        self.register_buffer("reference_mean", torch.zeros(0), persistent=False)
        self.register_buffer("reference_std", torch.zeros(0), persistent=False)
        self.register_buffer("reference_slope", torch.zeros(0), persistent=False)
        if (mode == "reference") != (reference is not None):
            raise NoiseaugInputError("reference=(noisy, clean) is required with mode='reference' and only used there")
        if reference is not None:
            self.set_reference(*reference)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        map_location: str | torch.device = "cpu",
        **transform_kwargs: Any,
    ) -> NAFlowTransform:
        """Load an :class:`NAFlow` (folder, released name such as ``"naflow-srgb"``, or Hub repo id) and wrap it.

        ``transform_kwargs`` are this class's constructor arguments (``mode``, ``p``, ``reference``, ...).
        """
        model = NAFlow.from_pretrained(name_or_path, revision=revision, cache_dir=cache_dir, map_location=map_location)
        return cls(model, **transform_kwargs)

    def set_reference(self, noisy: References, clean: References) -> None:
        """Set what ``mode="reference"`` samples from reference pair(s) ``(B, 3, H, W)`` (or ``(3, H, W)``): the
        noise-aware weights (``"nas"``) or the fitted latent Gaussian (``"fitted"``).

        With ``per_reference=True``: ``noisy`` and ``clean`` are sequences of the same length, one reference
        pair per item (``(3, H, W)``, any size of at least ``2 ** levels``; a ``(B, 3, H, W)`` item is one
        reference pooled over its batch), or ``(B, 3, H, W)`` batches whose rows are the pairs; one latent
        Gaussian is fitted per pair (``reference_mean``, ``reference_std``, ``reference_slope``: ``(N, latent
        channels)``; :meth:`~noiseaug.flows.naflow.NAFlow.fit_latent`), with a progress bar above
        :data:`PROGRESS_MIN_REFERENCES` pairs. Errors name the pair's index.
        """
        if self.per_reference:
            self._set_reference_bank(noisy, clean)
            return
        noisy_b, clean_b = self._reference_pair(noisy, clean, "reference")
        if self.reference_method == "fitted":
            self._store_fits([self._fit(noisy_b, clean_b)], stacked=False)
        else:
            self.reference_weights = self.model._posterior(noisy_b, clean_b, self.posterior_temperature).mean(0)

    def _reference_pair(self, noisy: object, clean: object, what: str) -> tuple[Tensor, Tensor]:
        """One validated reference pair as ``(B, 3, H, W)`` batches on the flow's device, in its dtype; errors
        name it ``what`` (``"reference"``, ``"reference pair 3"``)."""
        noisy_b, _ = as_batch(noisy, f"{what} noisy", channels=self.channels, unit_range=False)
        clean_b, _ = as_batch(clean, f"{what} clean", channels=self.channels)
        if noisy_b.shape != clean_b.shape:
            raise NoiseaugInputError(
                f"{what} noisy {tuple(noisy_b.shape)} and clean {tuple(clean_b.shape)} must have the same shape"
            )
        if not bool((noisy_b != clean_b).any()):
            raise NoiseaugInputError(
                f"{what} noisy and clean images are identical: the reference has no noise to match"
            )
        dtype = flow_dtype(self.model, type(self).__name__)
        device = self.model.means.device
        return noisy_b.to(device, dtype), clean_b.to(device, dtype)

    def _set_reference_bank(self, noisy: References, clean: References) -> None:
        """``per_reference=True``'s :meth:`set_reference`: one fitted latent Gaussian per reference pair."""
        noisy_list, clean_list = reference_list(noisy, "reference noisy"), reference_list(clean, "reference clean")
        if len(noisy_list) != len(clean_list):
            raise NoiseaugInputError(
                f"reference noisy and clean must hold the same number of pairs, got {len(noisy_list)} and "
                f"{len(clean_list)}"
            )
        pairs = [
            self._reference_pair(n, c, f"reference pair {i}")
            for i, (n, c) in enumerate(zip(noisy_list, clean_list, strict=True))
        ]
        fits = []
        bar = tqdm(pairs, desc="fit references", unit="pair", disable=len(pairs) <= PROGRESS_MIN_REFERENCES)
        for i, (noisy_b, clean_b) in enumerate(bar):
            try:
                fits.append(self._fit(noisy_b, clean_b))
            except NoiseaugInputError as error:
                raise NoiseaugInputError(f"reference pair {i}: {error}") from error
        self._store_fits(fits, stacked=True)

    def _fit(self, noisy: Tensor, clean: Tensor) -> LatentGaussian:
        """The std-matched latent fit of one validated reference pair; a constant std has slope 0."""
        fit = self.model._fit_latent(noisy, clean, match_std=True, signal_dependent=self.signal_dependent)
        return fit if fit.slope is not None else fit._replace(slope=torch.zeros_like(fit.std))

    def _store_fits(self, fits: list[LatentGaussian], stacked: bool) -> None:
        """Keep fitted latents (every slope set) as the ``reference_*`` buffers: stacked ``(N, C)`` for a bank,
        the single ``(C,)`` fit otherwise."""
        fields = [[getattr(fit, name) for fit in fits] for name in LatentGaussian._fields]
        self.reference_mean, self.reference_std, self.reference_slope = (
            torch.stack(values) if stacked else values[0] for values in fields
        )

    def forward(
        self,
        images: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        params: NoiseParams | None = None,
    ) -> Tensor:
        """Return ``images`` with NAFlow noise added (a new tensor; see the class docs)."""
        flow_dtype(self.model, type(self).__name__)
        self._check_call((), cond, "images")
        return super().forward(images, cond, generator, params=params)

    def _check_call(self, shape: tuple[int, ...], cond: NoiseCondition | None, name: str) -> None:
        if self.mode != "configuration" and cond is not None and cond.config is not None:
            raise NoiseaugInputError(
                f"cond.config is only used with mode='configuration' (this transform's mode is {self.mode!r})"
            )

    def mixture_weights(
        self, n: int, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> Tensor:
        """``(n, N_configurations)`` weights per image for the current mode."""
        if self.mode == "reference":
            return self.reference_weights.to(device).expand(n, -1)
        if self.mode == "random" and self.mixture:
            choices = self.config_choices.to(device)
            draws = -torch.rand(n, len(choices), generator=generator, device=device).clamp(min=1e-12).log()
            weights = torch.zeros(n, len(self.model.configurations), device=device)
            return weights.index_copy(1, choices, draws / draws.sum(1, keepdim=True))
        return one_hot(self.config_index(n, cond, generator, device), len(self.model.configurations))

    def config_index(
        self, n: int, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> Tensor:
        """``(n,)`` long configuration indices (into ``model.configurations``) of the one-configuration modes:
        ``cond.config`` or the single name (``"configuration"``), or a uniform draw from ``configurations``."""
        choices = self.config_choices.to(device)
        if self.mode == "configuration":
            if cond is not None and cond.config is not None:
                return self.model.config_index(cond, n, device)
            if len(self.configurations) == 1:
                return choices.expand(n)
            raise NoiseaugInputError(
                "mode='configuration' needs cond=NoiseCondition(config=...) or one name in configurations"
            )
        pick = torch.randint(len(choices), (n,), generator=generator, device=device)
        return choices[pick]

    def parameter_spec(self) -> ParameterSpec:
        spec = self._latent_parameter_spec()
        return {**spec, "temperature": (torch.float32, ())} if isinstance(self.temperature, ParamRange) else spec

    def _latent_parameter_spec(self) -> ParameterSpec:
        if self._fitted:
            size = (self.reference_mean.shape[-1],)
            spec: ParameterSpec = {
                "mean": (self.reference_mean.dtype, size),
                "std": (self.reference_std.dtype, size),
                "slope": (self.reference_slope.dtype, size),
            }
            return {**spec, "reference": (torch.long, ())} if self.per_reference else spec
        if self._weighted:
            dtype = self.reference_weights.dtype if self.mode == "reference" else torch.get_default_dtype()
            return {"weights": (dtype, (len(self.model.configurations),))}
        return {"config": (torch.long, ())}

    def describe_parameters(self, params: NoiseParams, row: int = 0) -> dict[str, Any]:
        described = self._describe_latent(params, row)
        if "temperature" in params.draws:
            described["temperature"] = float(params.draws["temperature"][row])
        return described

    def _describe_latent(self, params: NoiseParams, row: int) -> dict[str, Any]:
        if self._fitted:
            if self.per_reference:
                return {"reference_method": "fitted", "reference": int(params.draws["reference"][row])}
            return {"reference_method": "fitted"}
        if "config" in params.draws:
            return {"configuration": self.model.configurations[int(params.draws["config"][row])]}
        named = sorted(
            zip(self.model.configurations, params.draws["weights"][row].tolist(), strict=True), key=lambda kv: -kv[1]
        )
        return {"mixture": {name: round(w, 6) for name, w in named if round(w, 6) > 0}}

    @property
    def _fitted(self) -> bool:
        return self.mode == "reference" and self.reference_method == "fitted"

    @property
    def _weighted(self) -> bool:
        """Mixture weights per image (a random mixture or the reference's posterior), not one configuration."""
        return self.mode == "reference" or (self.mode == "random" and self.mixture)

    def draw_parameters(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        draws = self._draw_latent(shape[0], cond, generator, device)
        if isinstance(self.temperature, ParamRange):
            draws["temperature"] = self.temperature.draw(shape[0], generator, device)
        return draws

    def _draw_latent(
        self, n: int, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        if self._fitted and self.per_reference:
            pick = torch.randint(len(self.reference_mean), (n,), generator=generator, device=device)
            return {
                "mean": self.reference_mean.to(device)[pick],
                "std": self.reference_std.to(device)[pick],
                "slope": self.reference_slope.to(device)[pick],
                "reference": pick,
            }
        if self._fitted:
            return {
                "mean": self.reference_mean.to(device).expand(n, -1),
                "std": self.reference_std.to(device).expand(n, -1),
                "slope": self.reference_slope.to(device).expand(n, -1),
            }
        if self._weighted:
            return {"weights": self.mixture_weights(n, cond, generator, device)}
        return {"config": self.config_index(n, cond, generator, device)}

    def add_noise(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None) -> Tensor:
        draws = params.draws
        temperature = draws["temperature"] if isinstance(self.temperature, ParamRange) else self.temperature
        if self._fitted:
            latent = LatentGaussian(draws["mean"], draws["std"], draws["slope"])
            sample = lambda x: self.model._sample_gaussian(x, latent, generator, temperature)  # noqa: E731
        else:
            weights = draws["weights"] if self._weighted else one_hot(draws["config"], len(self.model.configurations))
            sample = lambda x: self.model._sample_mixture(x, weights, generator, temperature)  # noqa: E731
        h, w = clean.shape[-2:]
        padded = pad_to_multiple(clean, self.model.multiple)
        noisy = sample_in_flow_precision(padded, flow_dtype(self.model, type(self).__name__), sample)[..., :h, :w]
        return clean + tone_curve_shift(clean, noisy - clean, self.tone_shift) if self.tone_shift else noisy

    def extra_repr(self) -> str:
        reference = (
            f"reference_method={self.reference_method!r}, posterior_temperature={self.posterior_temperature}, "
            if self.mode == "reference"
            else ""
        )
        if self.per_reference:
            reference += f"per_reference=True, references={len(self.reference_mean)}, "
        return (
            f"mode={self.mode!r}, configurations={len(self.configurations)}, mixture={self.mixture}, "
            f"temperature={self.temperature}, tone_shift={self.tone_shift}, {reference}{super().extra_repr()}"
        )


def temperature_spec(value: object) -> float | ParamRange:
    """A fixed latent temperature (a number >= 0), or a range (``(low, high)`` or :class:`ParamRange`, values >= 0)
    that each image draws its own temperature from."""
    if isinstance(value, ParamRange | tuple):
        return as_range(value, "temperature")
    return check_temperature(value)


def reference_list(images: References, name: str) -> list[Tensor]:
    """``per_reference=True``'s references as a list, one pair's image per item: a ``(B, 3, H, W)`` tensor's rows,
    a ``(3, H, W)`` tensor, or a sequence's items (validated later, per pair); at least one."""
    if isinstance(images, Tensor):
        items = list(images.unbind(0)) if images.ndim == 4 else [images]
    elif isinstance(images, Sequence) and not isinstance(images, str):
        items = list(images)
    else:
        raise NoiseaugTypeError(
            f"{name} must be a tensor or a sequence of tensors (one reference pair each), got {type(images).__name__}"
        )
    if not items:
        raise NoiseaugInputError(f"{name} must hold at least one reference pair, got none")
    return items
