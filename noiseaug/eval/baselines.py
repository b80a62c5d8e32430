"""Fitted parametric baselines: per-image maximum-likelihood fits and per-(camera, ISO) fits on the simulated camera.

Every fit is a maximum-likelihood fit of a zero-mean model to ``noisy - clean`` (values on the [0, 1] scale):
AWGN (``sigma``), NLF (``var = beta1 * clean + beta2``) and Poisson-Gaussian (``gain``, ``read_sigma``). A
per-image fit sees the test image's own residual: an optimistic baseline. A per-(camera, ISO) fit pools training
draws of one combination, the camera-calibrated baseline of the Noise Flow paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..data.camera import CameraDraw, SimulatedCamera
from ..errors import NoiseaugInputError
from ..noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel, PoissonGaussianNoise
from ..noise.heteroscedastic import fit_linear_variance

AWGN_FIT = "AWGN (fitted per image)"
NLF_FIT = "NLF (fitted per image)"
PG_FIT = "Poisson-Gaussian (fitted per image)"

#: ``(camera, ISO) -> NoiseModel`` for one batch of the simulated camera.
ModelFor = Callable[[CameraDraw], NoiseModel]


def fit_per_image(noisy: Tensor, clean: Tensor, poisson_gaussian: bool = False) -> dict[str, NoiseModel]:
    """``{AWGN_FIT: GaussianNoise, NLF_FIT: HeteroscedasticGaussianNoise}`` (and ``PG_FIT``) fitted by maximum
    likelihood to this pair's residual; one set of parameters per image of the batch."""
    fitted: dict[str, NoiseModel] = {
        AWGN_FIT: GaussianNoise.fit(noisy, clean),
        NLF_FIT: HeteroscedasticGaussianNoise.fit(noisy, clean),
    }
    if poisson_gaussian:
        fitted[PG_FIT] = PoissonGaussianNoise.fit(noisy, clean)
    return fitted


def fitted_parameters(fitted: dict[str, NoiseModel]) -> dict[str, dict[str, float]]:
    """The scalar parameters of single-image fits of :func:`fit_per_image`: ``{name: {parameter: value}}``."""
    names = {AWGN_FIT: ("sigma",), NLF_FIT: ("beta1", "beta2"), PG_FIT: ("gain", "read_sigma")}
    return {name: {p: float(getattr(model, p)) for p in names[name]} for name, model in fitted.items()}


def combo_index(draw: CameraDraw, camera: SimulatedCamera) -> Tensor:
    """``(B,)`` int64 combination index ``camera * len(camera.isos) + ISO position`` of each sample of ``draw``."""
    iso, camera_index = draw.cond.iso, draw.cond.camera
    if iso is None or camera_index is None:
        raise NoiseaugInputError("draw.cond must give every sample's camera and iso")
    iso_pos = (iso[:, None] == torch.tensor(camera.isos, dtype=torch.float32)[None]).float().argmax(1)
    return camera_index * len(camera.isos) + iso_pos


def fit_per_combo(
    draws: Sequence[CameraDraw], camera: SimulatedCamera, fit: Callable[..., NoiseModel]
) -> dict[int, NoiseModel]:
    """Pooled ML fit ``fit(noisy, clean, per_sample=False)`` (e.g. ``GaussianNoise.fit``) for every
    (camera, ISO) combination seen in ``draws``, keyed by :func:`combo_index`, in increasing order."""
    noisy = torch.cat([d.noisy_raw[0] for d in draws])
    clean = torch.cat([d.clean_raw for d in draws])
    combos = torch.cat([combo_index(d, camera) for d in draws])
    return {int(c): fit(noisy[combos == c], clean[combos == c], per_sample=False) for c in combos.unique()}


def per_combo_model(fitted: dict[int, NoiseModel], camera: SimulatedCamera, cls: type[NoiseModel]) -> ModelFor:
    """A :data:`ModelFor` that gives each sample of a draw the parameters fitted for its (camera, ISO)."""

    def model_for(draw: CameraDraw) -> NoiseModel:
        chosen = [fitted[int(c)] for c in combo_index(draw, camera)]
        params = {name: torch.stack([getattr(m, name) for m in chosen]) for name, _ in chosen[0].named_buffers()}
        return cls(**params)

    return model_for


class SimulatorLikelihood(NoiseModel):
    """The simulated camera's exact likelihood and sampler for one draw's conditions, as a NoiseModel
    (``camera.log_prob``: only for ``SimulatedCamera.pixel_independent()``)."""

    def __init__(self, camera: SimulatedCamera, draw: CameraDraw) -> None:
        super().__init__()
        self.camera, self.cond = camera, draw.cond

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        return self.camera.log_prob(noisy, clean, self.cond)

    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        return self.camera.add_noise(clean, self.cond, generator)


def nlf_per_group(
    noise: Tensor,
    clean: Tensor,
    group: Tensor,
    groups: int,
    reference: Callable[[int], tuple[float, float] | None] = lambda k: None,
) -> list[dict]:
    """Per group ``k < groups`` (samples with ``group == k``): the pooled ML noise level function of ``noise`` on
    ``clean`` (``beta1``, ``beta2``), its RMS ``std`` and, where ``reference(k)`` gives a ``(beta1, beta2)``,
    ``var_ratio``: the mean square of the noise over the mean of the reference's ``beta1 * clean + beta2``
    (``None`` otherwise). Computed in float64."""
    rows = []
    for k in range(groups):
        x, n = clean[group == k].double(), noise[group == k].double()
        beta1, beta2 = fit_linear_variance(x + n, x, per_sample=False)
        ref = reference(k)
        ratio = float(n.square().mean() / (ref[0] * x.clamp(min=0) + ref[1]).mean()) if ref else None
        rows.append(
            {"beta1": float(beta1), "beta2": float(beta2), "var_ratio": ratio, "std": float(n.square().mean().sqrt())}
        )
    return rows
