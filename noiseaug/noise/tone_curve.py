"""The second-order term of a concave tone curve: why camera sRGB noise makes an image darker on average.

A camera renders sRGB through a concave tone curve ``s = f(x)`` of the linear signal ``x`` (about ``x ** (1 /
2.2)``). Zero-mean sensor noise ``delta`` gives ``f(x + delta) = s + n + f''(x) / (2 f'(x) ** 2) * n ** 2 + ...``
to second order, with ``n = f'(x) delta`` the first-order sRGB noise; for ``f(x) = x ** (1 / gamma)`` the factor is
``-(gamma - 1) / 2 / s``. So the noisy image is darker than the clean one by ``coefficient * E[n ** 2] / s``,
most in the shadows and with loud noise (Jensen's inequality); a noise model that is symmetric about the clean
image misses that shift.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import NoiseaugInputError

#: The sRGB value (0-1 scale) below which the term's ``1 / s`` is held constant, so that it stays bounded in the
#: blacks (where the tone curve's power law does not hold: cameras' curves are linear near black).
TONE_FLOOR = 0.05


def tone_curve_shift(clean: Tensor, noise: Tensor, coefficient: float, floor: float = TONE_FLOOR) -> Tensor:
    """``noise - coefficient * noise ** 2 / max(clean, floor)``: sRGB noise with the tone curve's second-order term.

    ``clean`` and ``noise`` are broadcastable tensors on the [0, 1] scale; ``coefficient`` is ``(gamma - 1) / 2``
    for a power-law curve of exponent ``1 / gamma`` (0.6 for 2.2) and 0 returns ``noise`` unchanged.

    Example:
        >>> import torch
        >>> noise = torch.tensor([-0.1, 0.0, 0.1])
        >>> tone_curve_shift(torch.full((3,), 0.5), noise, 0.5)  # both signs pulled down by 0.5 * 0.01 / 0.5
        tensor([-0.1100,  0.0000,  0.0900])
    """
    if coefficient == 0:
        return noise
    return noise - coefficient * noise.square() / clean.clamp_min(floor)


def tone_slope(clean: Tensor, noise: Tensor, floor: float = TONE_FLOOR) -> float:
    """How much ``(N, C, H, W)`` crops' noise darkens them per unit of noise power: the least-squares ``c`` in
    ``mean(noise) = -c * mean(noise ** 2 / max(clean, floor))`` over the ``N`` crops (each mean over one crop).

    Symmetric noise with :func:`tone_curve_shift`'s term added gives about its ``coefficient``, lower as the
    coefficient grows (the term adds power of its own); noise symmetric about the clean image gives about 0.
    """
    if noise.dim() != 4 or noise.shape != clean.shape:
        raise NoiseaugInputError(
            f"clean and noise must be (N, C, H, W) of one shape, got {tuple(clean.shape)} and {tuple(noise.shape)}"
        )
    offset = noise.flatten(1).mean(1)
    power = (noise.square() / clean.clamp_min(floor)).flatten(1).mean(1)
    return float(-(offset * power).sum() / power.square().sum().clamp_min(1e-30))
