"""DnCNN (Zhang, Zuo, Chen, Meng, Zhang; IEEE TIP 2017): a plain CNN that predicts the noise."""

from __future__ import annotations

from typing import Any, cast

from torch import Tensor, nn

from .._validation import as_batch, check_int, unbatch
from ..errors import NoiseaugTypeError
from ..hub import PretrainedMixin, register_model


@register_model
class DnCNN(nn.Module, PretrainedMixin):
    """DnCNN: ``depth`` 3x3 convolutions, ``width`` feature maps, residual (noise-predicting) output.

    Layout: conv(channels -> width) + ReLU; ``depth - 2`` times conv(width -> width) + BatchNorm +
    ReLU (the conv has no bias when BatchNorm follows); conv(width -> channels). All convolutions
    are 3x3 with zero padding 1, so any spatial size is kept. With ``residual=True`` the network
    predicts the noise and ``forward(noisy) = noisy - net(noisy)`` is the denoised image; with
    ``residual=False`` it returns ``net(noisy)``. Conv weights are initialised orthogonally
    (``nn.init.orthogonal_`` on the ``(out, in*3*3)`` matrix), biases to zero, BatchNorm to
    ``(1, 0)``. Images are ``(B, channels, H, W)`` on the [0, 1] scale (noisy input may leave it).

    The paper's DnCNN-S is ``depth=17, width=64``; Noise2NoiseFlow uses ``depth=9, width=64``.

    Examples:
        >>> import torch
        >>> net = DnCNN(channels=4, depth=9)
        >>> net(torch.rand(2, 4, 32, 32)).shape
        torch.Size([2, 4, 32, 32])
        >>> net.config
        {'model_type': 'dncnn', 'channels': 4, 'depth': 9, 'width': 64, 'batch_norm': True, 'residual': True}
    """

    model_type = "dncnn"

    def __init__(
        self, channels: int = 3, depth: int = 17, width: int = 64, batch_norm: bool = True, residual: bool = True
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels")
        self.depth = check_int(depth, "depth", minimum=2)
        self.width = check_int(width, "width")
        for name, flag in (("batch_norm", batch_norm), ("residual", residual)):
            if not isinstance(flag, bool):
                raise NoiseaugTypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self.batch_norm, self.residual = batch_norm, residual
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Orthogonal conv weights, zero biases, BatchNorm scale 1 and shift 0 (running stats reset); the
        last convolution starts at zero, so a residual DnCNN starts as the identity.

        With an orthogonal last layer the initial residual is of order 1 (an MSE near 0.75 on images in
        [0, 1]), which Adam must first drive to zero (docs/results.md); zero-initialised, the network starts
        from the noisy input's error.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.orthogonal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
        nn.init.zeros_(cast(nn.Conv2d, self.body[-1]).weight)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments plus ``model_type`` (saved as config.json)."""
        return {
            "model_type": self.model_type,
            "channels": self.channels,
            "depth": self.depth,
            "width": self.width,
            "batch_norm": self.batch_norm,
            "residual": self.residual,
        }

    def forward(self, noisy: Tensor) -> Tensor:
        """``(B, channels, H, W)`` (or ``(channels, H, W)``) noisy -> denoised (residual) or the network's raw output.

        The type, dtype and shape are checked; the values are not (noisy images may leave [0, 1], and a
        NaN propagates as in any layer), so a training step costs no host sync.
        """
        x, unbatched = as_batch(noisy, "noisy", channels=self.channels, unit_range=False, finite=False)
        out = self.body(x)
        return unbatch(x - out if self.residual else out, unbatched)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, depth={self.depth}, width={self.width}, batch_norm={self.batch_norm}, "
            f"residual={self.residual}"
        )
