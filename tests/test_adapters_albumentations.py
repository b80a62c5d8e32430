"""AlbumentationsNoise: noiseaug transforms inside A.Compose (HWC numpy uint8/float32, seeding, workers, schema)."""

import numpy as np
import pytest
import torch

from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    PoissonGaussianNoiseTransform,
)

# The adapter module raises ImportError, with the reason, where its host library is missing or broken.
adapters = pytest.importorskip("noiseaug.transforms.albumentations", exc_type=ImportError)
A = pytest.importorskip("albumentations")
AlbumentationsNoise = adapters.AlbumentationsNoise

from adapter_helpers import (  # noqa: E402  # noqa: E402
    PARAMETRIC,
    NoisedConstant,
    check_workers_differ_and_runs_repeat,
    check_wrapping_is_validated,
    spied_flow_transform,
)


def image(dtype=np.uint8, shape=(16, 16, 3), seed=0):
    values = np.random.default_rng(seed).uniform(0.1, 0.9, shape)
    return np.round(values * 255).astype(np.uint8) if dtype == np.uint8 else values.astype(dtype)


def compose(transform, seed=0, p=1.0):
    return A.Compose([A.HorizontalFlip(p=0.5), AlbumentationsNoise(transform, p=p)], seed=seed)


@pytest.mark.parametrize("name", [*PARAMETRIC, "noise-flow"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_runs_in_compose_keeping_shape_dtype_range(name, dtype):
    transform = spied_flow_transform()[0] if name == "noise-flow" else PARAMETRIC[name]()
    x = image(dtype, (16, 16, 4 if name == "noise-flow" else 3))
    before = x.copy()
    y = compose(transform)(image=x)["image"]
    flipped = A.Compose([A.HorizontalFlip(p=0.5)], seed=0)(image=x)["image"]
    assert y.shape == x.shape and y.dtype == x.dtype and y.flags.c_contiguous
    assert (y != flipped).any()
    if dtype == np.float32:
        assert 0 <= y.min() and y.max() <= 1
    assert np.array_equal(x, before)


def test_uint8_is_scaled_noised_and_rounded_back():
    x = image()
    assert np.array_equal(AlbumentationsNoise(GaussianNoiseTransform(sigma=0.0))(image=x)["image"], x)
    result = A.ReplayCompose([AlbumentationsNoise(GaussianNoiseTransform(sigma=0.3))])(image=x)
    seed = result["replay"]["transforms"][0]["params"]["seed"]
    clean = torch.from_numpy(x).permute(2, 0, 1).float() / 255
    noisy = GaussianNoiseTransform(sigma=0.3)(clean, generator=torch.Generator().manual_seed(seed))
    expected = (noisy * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(result["image"], expected)
    assert result["image"].min() == 0 and result["image"].max() == 255  # clipped, not wrapped around


def test_grayscale_and_image_stacks_get_their_own_draws():
    gray = image(shape=(16, 16))
    assert AlbumentationsNoise(GaussianNoiseTransform(sigma=0.1))(image=gray)["image"].shape == (16, 16)
    stack = np.stack([image()] * 3)
    out = compose(GaussianNoiseTransform(sigma=0.1))(images=stack)["images"]
    assert out.shape == stack.shape and out.dtype == np.uint8
    assert not np.array_equal(out[0], out[1]) and not np.array_equal(out[1], out[2])


def test_compose_seed_makes_runs_reproducible():
    x = image()

    def run(seed):
        pipeline = compose(PoissonGaussianNoiseTransform(), seed=seed, p=0.7)
        return [pipeline(image=x)["image"] for _ in range(4)]

    first = run(7)
    assert all(np.array_equal(a, b) for a, b in zip(first, run(7), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, run(8), strict=True))
    assert not np.array_equal(first[0], first[1]), "successive calls must draw new noise"


def test_replay_compose_replays_the_noise():
    x = image()
    result = A.ReplayCompose([AlbumentationsNoise(HeteroscedasticNoiseTransform())])(image=x)
    assert np.array_equal(A.ReplayCompose.replay(result["replay"], image=x)["image"], result["image"])


def test_p_below_one_runs_the_flow_only_for_applied_images():
    transform, spy = spied_flow_transform()
    pipeline = A.Compose([AlbumentationsNoise(transform, p=0.5)], seed=3)
    x = image(np.float32, (8, 8, 4))
    changed = [bool((pipeline(image=x)["image"] != x).any()) for _ in range(12)]
    assert 0 < sum(changed) < 12, "the seed must give a mixed selection for this test to mean anything"
    assert spy.calls == sum(changed) and spy.rows == sum(changed)


def test_dataloader_workers_get_different_noise_reproducibly():
    pipeline = A.Compose([AlbumentationsNoise(GaussianNoiseTransform(sigma=0.1))], seed=11)
    check_workers_differ_and_runs_repeat(
        NoisedConstant(lambda x: pipeline(image=x)["image"], np.full((8, 8, 3), 128, np.uint8))
    )


def test_init_schema_validates_parameters():
    check_wrapping_is_validated(
        AlbumentationsNoise, A.GaussNoise(), type_error=ValueError, p_message="less than or equal to 1"
    )
    assert "GaussianNoiseTransform" in repr(AlbumentationsNoise(GaussianNoiseTransform()))


def test_unsupported_images_are_rejected():
    noise = AlbumentationsNoise(GaussianNoiseTransform())
    with pytest.raises(TypeError, match="uint8"):
        noise(image=np.zeros((8, 8, 3), np.uint16))
    with pytest.raises(ValueError, match="channels"):
        AlbumentationsNoise(spied_flow_transform()[0])(image=image())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        noise(image=np.full((8, 8, 3), 2.0, np.float32))
