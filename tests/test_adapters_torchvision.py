"""TorchvisionNoise: noiseaug transforms inside v2.Compose (tensors, tv_tensors, PIL, per-image p, seeding)."""

import numpy as np
import pytest
import torch

from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    PoissonGaussianNoiseTransform,
)

# The adapter module raises ImportError, with the reason, where its host library is missing or broken.
adapters = pytest.importorskip("noiseaug.transforms.torchvision", exc_type=ImportError)
TorchvisionNoise = adapters.TorchvisionNoise
PIL_Image = pytest.importorskip("PIL.Image")
from adapter_helpers import (  # noqa: E402  # noqa: E402
    PARAMETRIC,
    NoisedConstant,
    check_workers_differ_and_runs_repeat,
    check_wrapping_is_validated,
    clean_batch,
    run_seeded,
    spied_flow_transform,
)
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402


@pytest.mark.parametrize("name", [*PARAMETRIC, "noise-flow"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_runs_in_compose_keeping_type_shape_dtype_range(name, dtype):
    transform = spied_flow_transform()[0] if name == "noise-flow" else PARAMETRIC[name]()
    x = clean_batch(c=4 if name == "noise-flow" else 3)
    x = (x * 255).round().to(dtype) if dtype == torch.uint8 else x.to(dtype)
    before = x.clone()
    pipeline = v2.Compose([v2.RandomHorizontalFlip(p=0.5), TorchvisionNoise(transform)])
    flipped = run_seeded(v2.Compose([v2.RandomHorizontalFlip(p=0.5)]), tv_tensors.Image(x), 0)
    y = run_seeded(pipeline, tv_tensors.Image(x), 0)
    assert isinstance(y, tv_tensors.Image) and y.shape == x.shape and y.dtype == dtype
    assert (y != flipped).flatten(1).any(1).all(), "every image must be noised with p=1"
    if dtype != torch.uint8:
        assert 0 <= y.min() and y.max() <= 1
    assert torch.equal(x, before)


def test_plain_tensors_pil_images_and_pass_through_types():
    noise = TorchvisionNoise(GaussianNoiseTransform(sigma=0.1))
    image = clean_batch(b=1)[0]
    assert type(noise(image)) is torch.Tensor and noise(image).shape == image.shape
    pil = PIL_Image.fromarray(np.full((8, 8, 3), 128, np.uint8))
    out = noise(pil)
    assert isinstance(out, PIL_Image.Image) and out.mode == "RGB" and out.size == pil.size
    assert (np.asarray(out) != 128).any()
    assert noise(pil.convert("L")).mode == "L"
    mask = tv_tensors.Mask(torch.zeros(8, 8, dtype=torch.uint8))
    boxes = tv_tensors.BoundingBoxes([[1, 1, 5, 5]], format="XYXY", canvas_size=(8, 8))
    sample = noise({"image": tv_tensors.Image(image), "mask": mask, "boxes": boxes, "label": 3})
    assert not torch.equal(sample["image"], image)
    assert sample["mask"] is mask and sample["boxes"] is boxes and sample["label"] == 3


def test_same_torch_seed_same_noise_other_seed_other_noise():
    pipeline = v2.Compose([v2.RandomHorizontalFlip(), TorchvisionNoise(PoissonGaussianNoiseTransform(), p=0.7)])
    x = tv_tensors.Image(clean_batch())
    first = run_seeded(pipeline, x, 3)
    assert torch.equal(run_seeded(pipeline, x, 3), first)
    assert not torch.equal(run_seeded(pipeline, x, 4), first)


def test_p_gates_each_image_and_runs_the_flow_on_the_gated_images_only():
    transform, spy = spied_flow_transform()
    x = clean_batch(b=16, c=4)
    y = run_seeded(TorchvisionNoise(transform, p=0.5), x, 2)
    changed = (y != x).flatten(1).any(1)
    assert 0 < changed.sum() < 16, "the seed must give a mixed selection for this test to mean anything"
    assert spy.calls == 1 and spy.rows == int(changed.sum())
    pil = PIL_Image.fromarray(np.full((8, 8, 3), 128, np.uint8))
    outputs = [run_seeded(TorchvisionNoise(GaussianNoiseTransform(sigma=0.1), p=0.5), pil, s) for s in range(8)]
    unchanged = [o is pil for o in outputs]
    assert any(unchanged) and not all(unchanged)


def test_dataloader_workers_get_different_noise_reproducibly():
    noise = TorchvisionNoise(HeteroscedasticNoiseTransform())
    check_workers_differ_and_runs_repeat(NoisedConstant(noise, torch.full((3, 8, 8), 0.5)))


def test_invalid_arguments_and_inputs_are_rejected():
    check_wrapping_is_validated(TorchvisionNoise, v2.GaussianNoise())
    noise = TorchvisionNoise(GaussianNoiseTransform())
    with pytest.raises(TypeError, match="uint8"):
        noise(torch.zeros(3, 8, 8, dtype=torch.int32))
    with pytest.raises(TypeError, match="mode"):
        noise(PIL_Image.new("I;16", (8, 8)))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        noise(torch.zeros(8, 8))
