"""Reference denoisers that show what the noise models are worth downstream."""

from .dncnn import DnCNN
from .unet import UNet

__all__ = ["DnCNN", "UNet"]
