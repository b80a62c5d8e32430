"""Bayer packing, CFA sampling and demosaicking for every pattern."""

import pytest
import torch

from noiseaug.data.bayer import BAYER_PATTERNS, channel_colours, demosaic, mosaic_rgb, pack_bayer, unpack_bayer


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_pack_unpack_round_trip_every_pattern(pattern):
    mosaic = torch.rand(3, 1, 8, 12, generator=torch.Generator().manual_seed(0))
    packed = pack_bayer(mosaic, pattern)
    assert packed.shape == (3, 4, 4, 6)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        assert torch.equal(packed[:, k], mosaic[:, 0, i::2, j::2])
    assert torch.equal(unpack_bayer(packed, pattern), mosaic)
    assert unpack_bayer(pack_bayer(mosaic[0], pattern), pattern).shape == (1, 8, 12)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_mosaic_samples_the_pattern_colours_and_demosaic_keeps_flat_colour(pattern):
    colour = torch.tensor([0.7, 0.4, 0.2]).view(1, 3, 1, 1)
    flat = colour.expand(2, 3, 6, 8).clone()
    packed = mosaic_rgb(flat, pattern)
    expected = torch.tensor([0.7, 0.4, 0.2])[channel_colours(pattern)]
    assert torch.allclose(packed[0, :, 0, 0], expected)
    assert torch.allclose(demosaic(packed, pattern), flat, atol=1e-6)


def test_per_sample_patterns_match_single_pattern_calls():
    rgb = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    patterns = ["RGGB", "GBRG", "RGGB", "BGGR"]
    packed = mosaic_rgb(rgb, patterns)
    for k, p in enumerate(patterns):
        assert torch.equal(packed[k], mosaic_rgb(rgb[k : k + 1], p)[0])
        assert torch.allclose(demosaic(packed, patterns)[k], demosaic(packed[k : k + 1], p)[0])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="pattern must be one of"):
        pack_bayer(torch.zeros(1, 1, 4, 4), "RGBG")
    with pytest.raises(ValueError, match="mosaic must have even height and width"):
        pack_bayer(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="packed must have 4 channels"):
        unpack_bayer(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="one per sample"):
        mosaic_rgb(torch.zeros(2, 3, 4, 4), ["RGGB"])
