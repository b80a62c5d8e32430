"""KorniaNoise: noiseaug transforms inside kornia's AugmentationSequential (p, same_on_batch, keepdim, seeding)."""

import kornia.augmentation as K
import pytest
import torch
from adapter_helpers import (
    PARAMETRIC,
    NoisedConstant,
    check_workers_differ_and_runs_repeat,
    check_wrapping_is_validated,
    clean_batch,
    run_seeded,
    spied_flow_transform,
)

from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    PoissonGaussianNoiseTransform,
)
from noiseaug.transforms.kornia import KorniaNoise


@pytest.mark.parametrize("name", [*PARAMETRIC, "noise-flow"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_runs_in_augmentation_sequential_keeping_shape_dtype_range(name, dtype):
    transform = spied_flow_transform()[0] if name == "noise-flow" else PARAMETRIC[name]()
    x = clean_batch(c=4 if name == "noise-flow" else 3).to(dtype)
    before = x.clone()
    pipeline = K.AugmentationSequential(K.RandomHorizontalFlip(p=0.5), KorniaNoise(transform))
    y = run_seeded(pipeline, x, 0)
    flipped = run_seeded(K.AugmentationSequential(K.RandomHorizontalFlip(p=0.5)), x, 0)
    assert y.shape == x.shape and y.dtype == dtype
    assert 0 <= y.min() and y.max() <= 1
    assert (y != flipped).flatten(1).any(1).all(), "every image must be noised with p=1"
    assert torch.equal(x, before)


def test_masks_and_boxes_pass_through_the_noise():
    x, mask = clean_batch(b=2), (torch.rand(2, 1, 8, 8) > 0.5).float()
    boxes = torch.tensor([[[1.0, 1.0], [5.0, 1.0], [5.0, 4.0], [1.0, 4.0]]]).repeat(2, 1, 1, 1)
    pipeline = K.AugmentationSequential(
        KorniaNoise(GaussianNoiseTransform(sigma=0.1)), data_keys=["input", "mask", "bbox"]
    )
    y, mask_out, boxes_out = pipeline(x, mask, boxes)
    assert not torch.equal(y, x) and torch.equal(mask_out, mask) and torch.equal(boxes_out, boxes)


def test_keepdim_and_unbatched_input():
    image = clean_batch(b=1)[0]
    assert KorniaNoise(GaussianNoiseTransform(sigma=0.1), keepdim=True)(image).shape == image.shape
    assert KorniaNoise(GaussianNoiseTransform(sigma=0.1))(image).shape == (1, *image.shape)


def test_same_torch_seed_same_noise_other_seed_other_noise_and_params_replay():
    pipeline = K.AugmentationSequential(KorniaNoise(PoissonGaussianNoiseTransform(), p=0.7))
    x = clean_batch()
    first = run_seeded(pipeline, x, 3)
    assert torch.equal(run_seeded(pipeline, x, 3), first)
    assert not torch.equal(run_seeded(pipeline, x, 4), first)
    replayed = run_seeded(pipeline, x, 5)
    assert torch.equal(pipeline(x, params=pipeline._params), replayed)


def test_p_gates_rows_and_unselected_rows_are_untouched():
    aug = KorniaNoise(GaussianNoiseTransform(sigma=0.1), p=0.5)
    x = clean_batch(b=16)
    y = run_seeded(K.AugmentationSequential(aug), x, 0)
    selected = aug._params["batch_prob"] > 0.5
    assert 0 < selected.sum() < 16, "the seed must give a mixed selection for this test to mean anything"
    changed = (y != x).flatten(1).any(1)
    assert torch.equal(changed, selected)


def test_p_below_one_runs_the_flow_on_the_selected_rows_only():
    transform, spy = spied_flow_transform()
    aug = KorniaNoise(transform, p=0.5)
    x = clean_batch(b=16, c=4)
    y = run_seeded(K.AugmentationSequential(aug), x, 1)
    selected = aug._params["batch_prob"] > 0.5
    assert 0 < selected.sum() < 16
    assert spy.rows == int(selected.sum()) and spy.calls == 1
    assert torch.equal(y[~selected], x[~selected]) and (y[selected] != x[selected]).flatten(1).any(1).all()
    run_seeded(KorniaNoise(transform, p=0.0), x, 1)
    assert spy.rows == int(selected.sum()), "p=0 must not run the flow"


@pytest.mark.parametrize("make", [lambda: GaussianNoiseTransform(sigma=0.1), lambda: spied_flow_transform()[0]])
def test_same_on_batch_gives_every_image_the_same_draws(make):
    transform = make()
    x = clean_batch(b=1, c=transform.channels[-1] if transform.channels else 3).repeat(4, 1, 1, 1)
    same = run_seeded(KorniaNoise(transform, same_on_batch=True), x, 0)
    independent = run_seeded(KorniaNoise(transform), x, 0)
    assert all(torch.equal(same[0], row) for row in same[1:]) and not torch.equal(same, x)
    assert not torch.equal(independent[0], independent[1])


def test_dataloader_workers_get_different_noise_reproducibly():
    aug = KorniaNoise(HeteroscedasticNoiseTransform(), keepdim=True)
    check_workers_differ_and_runs_repeat(NoisedConstant(aug, torch.full((3, 8, 8), 0.5)))


def test_moves_with_to_and_repr_names_the_transform():
    aug = KorniaNoise(spied_flow_transform()[0]).to(torch.float64)
    assert next(aug.noise.parameters()).dtype == torch.float64
    assert "NoiseFlowTransform" in repr(aug) and "p=1.0" in repr(aug)


def test_invalid_arguments_are_rejected():
    check_wrapping_is_validated(KorniaNoise, K.RandomGaussianNoise())
    with pytest.raises(TypeError, match="same_on_batch"):
        KorniaNoise(GaussianNoiseTransform(), same_on_batch=1)
