"""Small real-looking sRGB training data on disk for the NAFlow recipe's tests (imported by the tests, not collected)."""

import torch

from noiseaug.imageio import write_png

#: five PolyU scenes, two crops each, so that the scene split holds some out for validation
POLYU_STEMS = [f"Canon5D2_5_160_3200_{s}_{k}" for s in ("chair", "desk", "door", "lamp", "tree") for k in (1, 2)]
CC15_STEMS = [f"d800_iso3200_{k}" for k in range(1, 6)]


def write_pairs(folder, stems, seed):
    """24x32 pairs named like the PolyU / CC15 files (``*_real.png`` noisy, ``*_mean.png`` clean)."""
    g = torch.Generator().manual_seed(seed)
    for stem in stems:
        clean = torch.rand(3, 24, 32, generator=g)
        write_png(folder / f"{stem}_mean.png", clean)
        write_png(folder / f"{stem}_real.png", (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1))


def write_dslr_training_data(data_root):
    """``data_root/real-srgb/{polyu,nam-cc15}`` with :data:`POLYU_STEMS` (seed 0) and :data:`CC15_STEMS` (seed 1)."""
    write_pairs(data_root / "real-srgb" / "polyu", POLYU_STEMS, 0)
    write_pairs(data_root / "real-srgb" / "nam-cc15", CC15_STEMS, 1)
