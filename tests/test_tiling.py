"""Sampling large images in tiles: exact where the decoder is pixel-independent, bounded memory, released flows."""

import pytest
import torch
import torch.nn.functional as F

from noiseaug import NAFlowTransform, NoiseFlowTransform
from noiseaug.demo import sample_pairs
from noiseaug.flows.tiling import decode_in_tiles, decode_within_budget, tile_side


def _pixelwise(z, clean, rows):
    """A pixel-independent decoder with a stride-4 latent: each latent value covers a 4x4 block."""
    return z.repeat_interleave(4, -2).repeat_interleave(4, -1) * (1 + clean)


def _blur(radius):
    """A decoder with spatial context: a box blur of ``radius`` (zero padding) on top of ``_pixelwise``."""
    kernel = torch.ones(3, 1, 2 * radius + 1, 2 * radius + 1, dtype=torch.float64) / (2 * radius + 1) ** 2
    return lambda z, clean, rows: F.conv2d(_pixelwise(z, clean, rows), kernel, padding=radius, groups=3)


def _inputs(batch=2, height=52, width=36, seed=0):
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(batch, 3, height, width, generator=gen, dtype=torch.float64)
    return torch.randn(batch, 3, height // 4, width // 4, generator=gen, dtype=torch.float64), clean


@pytest.mark.parametrize("tile,overlap", [(4, 0), (8, 4), (12, 8), (16, 0), (64, 4)])
def test_pixel_independent_decoding_is_seamless(tile, overlap):
    z, clean = _inputs()
    whole = _pixelwise(z, clean, slice(None))
    assert torch.equal(decode_in_tiles(_pixelwise, z, clean, tile=tile, overlap=overlap), whole)


def test_context_within_the_overlap_is_exact_and_missing_context_shows():
    z, clean = _inputs()
    decode = _blur(radius=3)
    whole = decode(z, clean, slice(None))
    assert torch.allclose(decode_in_tiles(decode, z, clean, tile=12, overlap=4), whole, atol=1e-12)
    assert (decode_in_tiles(decode, z, clean, tile=12, overlap=0) - whole).abs().max() > 1e-3


def test_budget_chunks_the_batch_then_tiles_each_image_and_every_call_fits():
    z, clean = _inputs(batch=3, height=64, width=48)
    decode, calls = _blur(radius=2), []

    def recording(z_part, clean_part, rows):
        calls.append((clean_part.shape[0] * clean_part.shape[-2] * clean_part.shape[-1], rows))
        return decode(z_part, clean_part, rows)

    whole = decode(z, clean, slice(None))
    assert torch.equal(decode_within_budget(recording, z, clean, max_pixels=3 * 64 * 48, overlap=4), whole)
    assert calls == [(3 * 64 * 48, slice(None))]
    calls.clear()
    chunked = decode_within_budget(recording, z, clean, max_pixels=2 * 64 * 48, overlap=4)
    assert torch.allclose(chunked, whole, atol=1e-12) and [r for _, r in calls] == [slice(0, 2), slice(2, 3)]
    calls.clear()
    tiled = decode_within_budget(recording, z, clean, max_pixels=24 * 24, overlap=4)
    assert torch.allclose(tiled, whole, atol=1e-12)
    assert len(calls) > 3 and max(n for n, _ in calls) <= 24 * 24
    assert {r.start for _, r in calls} == {0, 1, 2}


def test_tile_side_and_bad_budgets():
    assert tile_side(64, 64, max_pixels=64 * 64, overlap=8, stride=8) is None
    assert tile_side(4096, 4096, max_pixels=2**22, overlap=48, stride=8) == 1952
    assert tile_side(4096, 4096, max_pixels=16, overlap=48, stride=8) == 8  # the smallest core, over budget
    z, clean = _inputs()
    for bad in (0, -5, 2.5, True, None):
        with pytest.raises((TypeError, ValueError), match="max_pixels must be a positive int"):
            decode_within_budget(_pixelwise, z, clean, max_pixels=bad, overlap=0)
    with pytest.raises(ValueError, match="multiples of the latent's stride 4"):
        decode_in_tiles(_pixelwise, z, clean, tile=6, overlap=0)


def _recorded_pixels(model):
    """Wrap ``model.decode`` to record the pixels of every call."""
    pixels, decode = [], model.decode

    def recording(z, condition):
        clean = condition if torch.is_tensor(condition) else condition.clean
        pixels.append(clean.shape[0] * clean.shape[-2] * clean.shape[-1])
        return decode(z, condition)

    model.decode = recording
    return pixels


def _photo(height, width, batch):
    """A real clean photograph (a shipped sample), cropped and repeated."""
    image = sample_pairs()[0].clean
    return image[:, :, :height, :width].repeat(batch, 1, 1, 1)


@pytest.mark.parametrize(
    "name,transform,images,max_pixels,tolerance",
    [
        ("naflow-srgb", NAFlowTransform, lambda: _photo(128, 128, 2), 112 * 112, 0.02 / 255),
        (
            "noiseflow-simcam",
            NoiseFlowTransform,
            lambda: _photo(128, 128, 2).mean(1, keepdim=True),
            40 * 40,
            1e-4 / 255,
        ),
    ],
)
def test_released_flows_sample_large_images_in_tiles_like_whole(name, transform, images, max_pixels, tolerance):
    clean = images()
    noiser = transform.from_pretrained(name, clip=False)
    whole = noiser(clean, generator=torch.Generator().manual_seed(0))
    pixels = _recorded_pixels(noiser.model)
    noiser.model.max_pixels = max_pixels
    tiled = noiser(clean, generator=torch.Generator().manual_seed(0))
    assert len(pixels) > 2 and max(pixels) <= max_pixels
    assert (tiled - whole).abs().max() <= tolerance
    assert (whole - clean).std() > 1 / 255  # the noise itself is far larger than the tiling difference
