"""The layers of the authors' own Noise Flow code, as their released SIDD weights need them.

The official Noise Flow (Abdelhamed et al., TF1, BorealisAI/noise_flow) and Noise2NoiseFlow (Maleky et al.,
PyTorch, SamsungLabs/Noise2NoiseFlow) checkpoints share one topology, S-(conv, A)x4-G-(conv, A)x4, whose exact
formulas differ from the papers' text and from :mod:`noiseaug.flows.layers` (the project's own parameterisation,
which stays the default for training). Read in the data -> latent direction:

* :class:`OfficialSignalDependent` (F1): all ISO and camera dependence. With camera ``m`` and ISO value ``q``,
  ``e_k = exp(C[k, m])``, ``gain = exp(G[iso index] * e_2) * q``, ``beta1 = exp(b1 * e_0)``,
  ``beta2 = exp(b2 * e_1)``; ``h = n / sqrt(beta1 * x / gain + beta2)``. Only beta1 sees the ISO.
* :class:`ScalarGain` (F2): ``h / gamma`` with one learned scalar, no conditioning.
* :class:`OfficialConv1x1` (F3): the LU-parameterised 1x1 convolution ``M = P (I + L) (U + diag(sign * exp(log_s)))``,
  applied to each pixel's channel vector as a row vector (``z = n M``, the TF code) or a column vector
  (``z = M n``, Noise2NoiseFlow).
* :class:`OfficialCoupling` (F4): ``z_b = n_b * exp(r * tanh(o_s)) + o_t`` from a sub-network of the first half:
  conv3x3 -> batch norm -> ReLU -> conv1x1 -> batch norm -> ReLU -> zero pad + a ring channel that is 1 on the
  padded border ("edge bias") -> valid conv3x3, times ``exp(3 * logs)``.
* :class:`FrozenBatchNorm2d`: the couplings' batch norm as evaluated by the authors' test loops: always the
  stored statistics, ``(h - mean) / sqrt(var + eps)`` (TF: no affine, eps 1e-4; Noise2NoiseFlow: affine, eps 1e-5).

There is no act-norm. The formulas are those of ``../shared/official/ARCH.md`` (sections F1-F4), which were
checked against the official code's outputs; :class:`~noiseaug.flows.noise_flow.NoiseFlow` with
``variant="official"`` assembles them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import NoiseaugInputError
from .layers import FlowCondition, FlowLayer, InvConv1x1, needed

#: the camera parameter table's rows: the exponents of beta1, beta2 and the gain
_BETA1, _BETA2, _GAIN = 0, 1, 2


class OfficialSignalDependent(FlowLayer):
    """The authors' signal-dependent layer (module docs, F1): ``h = n / sqrt(beta1 * x / gain + beta2)``.

    Parameters (names as in the official checkpoints): ``beta1``, ``beta2`` (scalars, log domain),
    ``cam_params`` ``(3, cameras)`` (the exponents of beta1, beta2 and the gain per camera) and
    ``gain_params`` ``(isos,)`` (one per ISO level). Needs ``cond.clean``, ``cond.iso`` (the ISO value, which
    multiplies the learned gain), ``cond.iso_index`` and ``cond.camera``. Clean values below 0 count as 0 (the
    authors' clean raw is never negative). The per-sample factors are computed in float64 (B numbers).
    Initialised near the identity: every exponent 0 and ``b1 = ln(0.01)``, so ``beta2 = 1`` and
    ``beta1 / gain = 0.01 / q`` (``s`` is about 1).
    """

    def __init__(self, num_cameras: int, num_isos: int) -> None:
        super().__init__()
        self.beta1 = nn.Parameter(torch.tensor(math.log(0.01)))
        self.beta2 = nn.Parameter(torch.tensor(0.0))
        self.cam_params = nn.Parameter(torch.zeros(3, num_cameras))
        self.gain_params = nn.Parameter(torch.zeros(num_isos))

    def variance_factors(self, cond: FlowCondition | None) -> tuple[Tensor, Tensor]:
        """Per-sample ``(beta1 / gain, beta2)``, ``(B,)`` each, with ``s(x)^2 = beta1 / gain * x + beta2``; in
        float64 (float32 on MPS, which has no float64)."""
        clean = needed(cond, "clean")
        batch, device = clean.shape[0], clean.device
        zeros = torch.zeros(batch, dtype=torch.long, device=device)
        camera = cond.camera if cond is not None and cond.camera is not None else zeros
        iso_index = cond.iso_index if cond is not None and cond.iso_index is not None else zeros
        wide = _wide_dtype(device)
        e = self.cam_params.to(wide)[:, camera].exp()  # (3, B)
        log_gain = self.gain_params.to(wide)[iso_index] * e[_GAIN] + needed(cond, "iso").to(wide).log()
        beta1 = (self.beta1.to(wide) * e[_BETA1]).exp()
        beta2 = (self.beta2.to(wide) * e[_BETA2]).exp()
        return beta1 * (-log_gain).exp(), beta2

    def scale(self, cond: FlowCondition | None, dtype: torch.dtype) -> Tensor:
        a, b = self.variance_factors(cond)
        a, b = a.to(dtype).view(-1, 1, 1, 1), b.to(dtype).view(-1, 1, 1, 1)
        return (a * needed(cond, "clean").to(dtype).clamp(min=0) + b).sqrt()

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        s = self.scale(cond, x.dtype)
        return x / s, -s.log().expand_as(x).flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return y * self.scale(cond, y.dtype)


def _wide_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


class ScalarGain(FlowLayer):
    """The authors' gain layer (F2): ``h / gamma`` with one learned scalar ``gain`` for every sample, ISO and camera."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(float(gain)))

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        gamma = self.gain.to(x.dtype)
        logdet = -gamma.abs().log() * math.prod(x.shape[1:])
        return x / gamma, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return y * self.gain.to(y.dtype)


class OfficialConv1x1(InvConv1x1):
    """The LU 1x1 convolution of the official codes (F3): :class:`~noiseaug.flows.layers.InvConv1x1`'s
    ``M = P (I + strict_lower(lower)) (strict_upper(upper) + diag(sign_s * exp(log_s)))``, applied per pixel as
    ``z = n M`` (``row_vector=True``, the TF code: the convolution's weight is ``M^T``) or ``z = M n``
    (``row_vector=False``, Noise2NoiseFlow). ``log |det| = H * W * sum(log_s)`` either way.
    """

    def __init__(self, channels: int, row_vector: bool, seed: int = 0) -> None:
        super().__init__(channels, seed=seed)
        self.row_vector = bool(row_vector)

    def weight(self) -> Tensor:
        m = super().weight()
        return m.T if self.row_vector else m

    def extra_repr(self) -> str:
        return f"row_vector={self.row_vector}"


class FrozenBatchNorm2d(nn.Module):
    """Batch norm that always normalises with its stored statistics: ``(h - running_mean) / sqrt(running_var + eps)``,
    then ``* weight + bias`` when ``affine``. It does so in training mode too (and never updates the statistics):
    the official weights were evaluated that way, and a per-batch normalisation would make each sample's
    likelihood depend on the rest of the batch."""

    running_mean: Tensor
    running_var: Tensor

    def __init__(self, channels: int, affine: bool, eps: float) -> None:
        super().__init__()
        self.affine, self.eps = bool(affine), float(eps)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        if self.affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: Tensor) -> Tensor:
        inv = (self.running_var.to(h.dtype) + self.eps).rsqrt()
        shift = self.running_mean.to(h.dtype)
        if self.affine:
            inv = inv * self.weight.to(h.dtype)
            return (h - shift.view(1, -1, 1, 1)) * inv.view(1, -1, 1, 1) + self.bias.to(h.dtype).view(1, -1, 1, 1)
        return (h - shift.view(1, -1, 1, 1)) * inv.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.running_mean.shape[0]}, affine={self.affine}, eps={self.eps:g}"


class OfficialCoupling(FlowLayer):
    """The official affine coupling (F4): the first ``channels // 2`` channels give ``shift`` and ``log_scale`` of
    the rest, ``z_b = n_b * exp(log_scale) + shift``, with ``log_scale = rescale * tanh(.)``.

    Sub-network: ``conv1`` (3x3, zero padding) -> ``bn1`` -> ReLU -> ``conv2`` (1x1) -> ``bn2`` -> ReLU -> zero pad by
    1 and a last channel that is 1 on that padded border -> ``conv3`` (3x3, valid) -> ``* exp(3 * logs)``; output
    channels ``[0, k)`` are the shift, ``[k, 2k)`` the raw log-scale. The batch norms are
    :class:`FrozenBatchNorm2d`. Initialised as the identity (``conv3`` zero), like the authors' code.
    """

    def __init__(self, channels: int, hidden: int, bn_affine: bool, bn_eps: float) -> None:
        super().__init__()
        if channels < 2:
            raise NoiseaugInputError(f"OfficialCoupling needs at least 2 channels, got {channels}")
        self.split = channels // 2
        out = 2 * (channels - self.split)
        self.conv1 = nn.Conv2d(self.split, hidden, 3, padding=1)
        self.bn1 = FrozenBatchNorm2d(hidden, bn_affine, bn_eps)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.bn2 = FrozenBatchNorm2d(hidden, bn_affine, bn_eps)
        self.conv3 = nn.Conv2d(hidden + 1, out, 3)
        nn.init.zeros_(self.conv3.weight)
        nn.init.zeros_(self.conv3.bias)  # type: ignore[arg-type]  # Conv2d's bias is a Parameter here (bias=True)
        self.logs = nn.Parameter(torch.zeros(out))
        self.rescale = nn.Parameter(torch.tensor(1e-4))

    def shift_and_log_scale(self, xa: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.bn1(self.conv1(xa)))
        h = F.relu(self.bn2(self.conv2(h)))
        ring = F.pad(h.new_zeros(h.shape[0], 1, h.shape[2], h.shape[3]), (1, 1, 1, 1), value=1.0)
        h = torch.cat([F.pad(h, (1, 1, 1, 1)), ring], 1)
        o = self.conv3(h) * (3 * self.logs.to(h.dtype)).exp().view(1, -1, 1, 1)
        shift, raw = o.chunk(2, dim=1)
        return shift, self.rescale.to(h.dtype) * torch.tanh(raw)

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, : self.split], x[:, self.split :]
        shift, log_scale = self.shift_and_log_scale(xa)
        return torch.cat([xa, xb * log_scale.exp() + shift], 1), log_scale.flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        ya, yb = y[:, : self.split], y[:, self.split :]
        shift, log_scale = self.shift_and_log_scale(ya)
        return torch.cat([ya, (yb - shift) * (-log_scale).exp()], 1)


__all__ = ["FrozenBatchNorm2d", "OfficialConv1x1", "OfficialCoupling", "OfficialSignalDependent", "ScalarGain"]
