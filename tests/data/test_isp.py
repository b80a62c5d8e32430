"""Unprocessing (Brooks et al. 2019) and the forward ISP: round trips without noise."""

from pathlib import Path

import pytest
import torch
from kornia.metrics import psnr

from noiseaug.data.isp import (
    HIGHLIGHT_THRESHOLD,
    inverse_tone_curve,
    process,
    process_rgb,
    random_isp_params,
    tone_curve,
    unprocess,
    unprocess_rgb,
)
from noiseaug.imageio import read_image

KODAK = Path("../shared/data/clean/kodak24")


def _images() -> torch.Tensor:
    """Kodak crops when the shared data is present, plus a smooth synthetic image (always)."""
    g = torch.Generator().manual_seed(0)
    synthetic = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=(128, 128), mode="bilinear")
    if not KODAK.is_dir():
        return synthetic
    crops = [read_image(KODAK / f"kodim{k:02d}.png")[:, 100:228, 200:328] for k in (1, 5, 13, 23)]
    return torch.cat([torch.stack(crops), synthetic])


def test_tone_curve_inverse():
    y = torch.linspace(0, 1, 1001)
    assert torch.allclose(tone_curve(inverse_tone_curve(y)), y, atol=1e-6)


def test_unmosaicked_round_trip_is_exact():
    """Round trip = unprocess without mosaic -> ISP without demosaic, no clipping, no highlight blend."""
    x = _images()
    params = random_isp_params(x.shape[0], "RGGB", torch.Generator().manual_seed(3))
    raw = unprocess_rgb(x, params, highlight_preserving=False, clip=False)
    assert (process_rgb(raw, params, clip=False) - x).abs().max() < 1e-3


def test_default_round_trip_is_exact_below_highlights():
    """With clipping and the highlight blend (the defaults) only highlight pixels change."""
    x = _images()
    params = random_isp_params(x.shape[0], "BGGR", torch.Generator().manual_seed(4))
    raw = unprocess_rgb(x, params)
    assert raw.min() >= 0 and raw.max() <= 1
    plain = unprocess_rgb(x, params, highlight_preserving=False, clip=False)
    cam = plain * params.gains[:, :, None, None]
    in_range = ((plain >= 0) & (plain <= 1)).all(1, keepdim=True)
    ordinary = ((cam.mean(1, keepdim=True) < HIGHLIGHT_THRESHOLD) & in_range).expand_as(x)
    assert ordinary.float().mean() > 0.9
    error = (process_rgb(raw, params) - x).abs()
    assert error[ordinary].max() < 1e-3


def test_mosaic_demosaic_round_trip_is_close():
    """The bilinear demosaic is the lossy step; on smooth content the full round trip stays above 35 dB."""
    g = torch.Generator().manual_seed(5)
    x = torch.nn.functional.interpolate(
        torch.rand(2, 3, 6, 6, generator=g), size=(96, 96), mode="bicubic", align_corners=True
    ).clamp(0.05, 0.9)
    params = random_isp_params(2, ["RGGB", "GRBG"], torch.Generator().manual_seed(6))
    raw = unprocess(x, params)
    assert raw.shape == (2, 4, 48, 48)
    out = process(raw, params)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert psnr(out[inner], x[inner], 1.0) > 35


def test_params_errors():
    params = random_isp_params(2)
    with pytest.raises(ValueError, match="params hold 2 samples"):
        unprocess_rgb(torch.rand(3, 3, 8, 8), params)
    with pytest.raises(ValueError, match="srgb values must lie in"):
        unprocess_rgb(torch.full((2, 3, 8, 8), 2.0), params)
