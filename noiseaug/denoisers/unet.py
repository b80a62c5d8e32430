"""A U-Net denoiser (the encoder-decoder of Noise2Noise / Neighbor2Neighbor, widths configurable)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._sizes import pad_to_multiple
from ..hub import PretrainedMixin, register_model
from .dncnn import _positive_int


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))


@register_model
class UNet(nn.Module, PretrainedMixin):
    """U-Net: ``levels`` 2x max-pool downsamplings, nearest 2x upsampling with skip concatenation.

    Widths: ``width`` at full resolution, the same at every level (as the Noise2Noise U-Net keeps
    48 channels); two 3x3 convs with LeakyReLU(0.1) per stage; a 1x1 output conv. Any H and W: the
    input is padded by reflection to a multiple of ``2 ** levels`` and the output cropped back.
    ``residual=True`` predicts the noise (``noisy - net(noisy)``), ``False`` the clean image.

    Example:
        >>> import torch
        >>> net = UNet(channels=3, width=8, levels=2)
        >>> net(torch.rand(2, 3, 30, 17)).shape
        torch.Size([2, 3, 30, 17])
    """

    model_type = "unet"

    def __init__(self, channels: int = 3, width: int = 48, levels: int = 4, residual: bool = False) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels", 1)
        self.width = _positive_int(width, "width", 1)
        self.levels = _positive_int(levels, "levels", 1)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        self.inc = _double_conv(channels, width)
        self.down = nn.ModuleList(_double_conv(width, width) for _ in range(levels))
        self.up = nn.ModuleList(_double_conv(2 * width, width) for _ in range(levels))
        self.out = nn.Conv2d(width, channels, 1)

    @property
    def config(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "channels": self.channels, "width": self.width, "levels": self.levels,
                "residual": self.residual}

    def forward(self, noisy: Tensor) -> Tensor:
        """``(B, channels, H, W)`` noisy -> denoised, same shape."""
        if noisy.ndim != 4 or noisy.shape[1] != self.channels:
            raise ValueError(f"noisy must have shape (B, {self.channels}, H, W), got {tuple(noisy.shape)}")
        h, w = noisy.shape[-2:]
        skips = [self.inc(pad_to_multiple(noisy, 2 ** self.levels))]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for block in self.up:
            y = block(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), skips.pop()], 1))
        out = self.out(y)[..., :h, :w]
        return noisy - out if self.residual else out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, width={self.width}, levels={self.levels}, residual={self.residual}"
