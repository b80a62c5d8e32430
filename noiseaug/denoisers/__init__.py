"""Reference denoisers that show what the noise models are worth downstream."""

from .dncnn import DnCNN

__all__ = ["DnCNN"]
