"""A U-Net denoiser (the encoder-decoder of Noise2Noise / Neighbor2Neighbor, widths configurable)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._sizes import pad_to_multiple
from .._validation import as_batch, check_int, unbatch
from ..errors import NoiseaugTypeError
from ..hub import PretrainedMixin, register_model


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.1, inplace=True),
    )


@register_model
class UNet(nn.Module, PretrainedMixin):
    """U-Net: ``levels`` 2x max-pool downsamplings, nearest 2x upsampling with skip concatenation.

    Widths: ``width`` at full resolution, the same at every level (as the Noise2Noise U-Net keeps
    48 channels); two 3x3 convs with LeakyReLU(0.1) per stage; a 1x1 output conv. Any H and W: the
    input is padded by reflection to a multiple of ``2 ** levels`` and the output cropped back.
    ``residual=True`` predicts the noise (``noisy - net(noisy)``), ``False`` the clean image. A residual
    U-Net's output conv starts at zero, so it starts as the identity (as :class:`~noiseaug.denoisers.dncnn.DnCNN`
    does): with torch's default init its first outputs add a random residual (docs/results.md).

    Examples:
        >>> import torch
        >>> net = UNet(channels=3, width=8, levels=2)
        >>> net(torch.rand(2, 3, 30, 17)).shape
        torch.Size([2, 3, 30, 17])
    """

    model_type = "unet"

    def __init__(self, channels: int = 3, width: int = 48, levels: int = 4, residual: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels")
        self.width = check_int(width, "width")
        self.levels = check_int(levels, "levels")
        if not isinstance(residual, bool):
            raise NoiseaugTypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        self.inc = _double_conv(channels, width)
        self.down = nn.ModuleList(_double_conv(width, width) for _ in range(levels))
        self.up = nn.ModuleList(_double_conv(2 * width, width) for _ in range(levels))
        self.out = nn.Conv2d(width, channels, 1)
        if residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]  # Conv2d's bias is a Parameter here (bias=True)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type,
            "channels": self.channels,
            "width": self.width,
            "levels": self.levels,
            "residual": self.residual,
        }

    def forward(self, noisy: Tensor) -> Tensor:
        """``(B, channels, H, W)`` (or ``(channels, H, W)``) noisy -> denoised, same shape; checked as
        :meth:`DnCNN.forward <noiseaug.denoisers.dncnn.DnCNN.forward>` (type, dtype and shape, not values)."""
        x, unbatched = as_batch(noisy, "noisy", channels=self.channels, unit_range=False, finite=False)
        h, w = x.shape[-2:]
        skips = [self.inc(pad_to_multiple(x, 2**self.levels))]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for block in self.up:
            y = block(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), skips.pop()], 1))
        out = self.out(y)[..., :h, :w]
        return unbatch(x - out if self.residual else out, unbatched)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, width={self.width}, levels={self.levels}, residual={self.residual}"
