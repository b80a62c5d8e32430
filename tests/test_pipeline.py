"""noiseaug.transforms.pipeline: NoisyPairs in real DataLoaders (2 workers), DeviceNoise, per-worker generators."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from noiseaug.transforms import GaussianNoiseTransform, HeteroscedasticNoiseTransform
from noiseaug.transforms.pipeline import DeviceNoise, NoisyPairs, worker_generator, worker_seed

N = 8


def clean_images():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 6, 6, generator=g) for _ in range(N)]


def by_image(pairs, images):
    """``{item index: noisy}`` for (noisy, clean) batches, identifying each item by its clean image."""
    out = {}
    for noisy, clean in pairs:
        for n, c in zip(noisy, clean, strict=True):
            index = next(i for i, image in enumerate(images) if torch.equal(image, c))
            out[index] = n
    return out


def loader(dataset, workers, seed=0, **kwargs):
    return DataLoader(
        dataset,
        batch_size=3,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


def test_noise_of_an_item_does_not_depend_on_workers_order_or_batching():
    images = clean_images()
    pairs = NoisyPairs(images, GaussianNoiseTransform(sigma=(0.05, 0.2)), seed=5)
    reference = {i: pairs[i][0] for i in range(N)}
    two_workers = by_image(loader(pairs, workers=2), images)
    again = by_image(loader(pairs, workers=2, seed=99), images)  # another shuffle, other worker assignment
    assert sorted(two_workers) == list(range(N))
    for i in range(N):
        assert torch.equal(two_workers[i], reference[i]) and torch.equal(again[i], reference[i])
        assert not torch.equal(reference[i], images[i])
    assert not torch.equal(reference[0] - images[0], reference[1] - images[1])


def test_seed_and_epoch_change_the_noise_and_runs_repeat():
    images = clean_images()
    noise = GaussianNoiseTransform(sigma=0.1)
    a, b, other = (NoisyPairs(images, noise, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(a[i][0], b[i][0]) for i in range(N))
    assert not any(torch.equal(a[i][0], other[i][0]) for i in range(N))
    epoch0 = a[3][0]
    a.set_epoch(1)
    assert a.epoch == 1 and not torch.equal(a[3][0], epoch0)
    a.set_epoch(0)
    assert torch.equal(a[3][0], epoch0)


def test_set_epoch_reaches_persistent_workers():
    images = clean_images()
    pairs = NoisyPairs(images, HeteroscedasticNoiseTransform(), seed=0)
    expected = []
    for epoch in (0, 1):
        pairs.set_epoch(epoch)
        expected.append({i: pairs[i][0] for i in range(N)})
    persistent = loader(pairs, workers=2, persistent_workers=True)
    for epoch in (0, 1):
        pairs.set_epoch(epoch)
        got = by_image(persistent, images)
        assert all(torch.equal(got[i], expected[epoch][i]) for i in range(N))
    assert not torch.equal(expected[0][0], expected[1][0])


def test_dict_and_tuple_items_and_named_errors():
    images = clean_images()
    noise = GaussianNoiseTransform(sigma=0.1)
    as_dicts = NoisyPairs([{"clean": im, "name": str(i)} for i, im in enumerate(images)], noise, image_key="clean")
    as_tuples = NoisyPairs([(im, i) for i, im in enumerate(images)], noise, image_key=0)
    plain = NoisyPairs(images, noise)
    assert torch.equal(as_dicts[2][0], plain[2][0]) and torch.equal(as_tuples[-1][0], plain[N - 1][0])
    with pytest.raises(ValueError, match=r"image_key='image'.*\['clean', 'name'\]"):
        NoisyPairs([{"clean": images[0], "name": "a"}], noise)[0]
    with pytest.raises(TypeError, match="image_key=<position>"):
        NoisyPairs([(images[0], 0)], noise)[0]
    with pytest.raises(TypeError, match="transform must be a noiseaug NoiseTransform"):
        NoisyPairs(images, lambda x: x)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        NoisyPairs(images, noise, seed=-1)
    with pytest.raises(TypeError, match="epoch must be a non-negative int, got float 1.5"):
        plain.set_epoch(1.5)
    with pytest.raises(ValueError, match="images values must lie in"):
        NoisyPairs([images[0] * 2], noise)[0]


def test_device_hook_is_seeded_moves_the_batch_and_resumes():
    batch = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    hook = DeviceNoise(GaussianNoiseTransform(sigma=0.1), "cpu", seed=3)
    noisy, clean = hook(batch)
    assert clean is batch and noisy.shape == batch.shape and not noisy.requires_grad
    again = DeviceNoise(GaussianNoiseTransform(sigma=0.1), "cpu", seed=3)
    assert torch.equal(again({"image": batch, "label": torch.zeros(4)})[0], noisy)
    assert torch.equal(DeviceNoise(GaussianNoiseTransform(sigma=0.1), seed=3, image_key=1)((None, batch))[0], noisy)
    state = hook.state_dict()
    second = hook(batch)[0]
    assert not torch.equal(second, noisy)  # the stream continues
    again.load_state_dict(state)
    assert torch.equal(again(batch)[0], second)
    with pytest.raises(ValueError, match="device must be a torch device"):
        DeviceNoise(GaussianNoiseTransform(), "gpu-please")
    with pytest.raises(TypeError, match="the batch must be an image tensor"):
        hook(3.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_hook_on_cuda_noises_on_the_gpu():
    hook = DeviceNoise(HeteroscedasticNoiseTransform(), "cuda", seed=0)
    batch = torch.rand(4, 3, 16, 16)
    noisy, clean = hook(batch)
    assert noisy.device.type == "cuda" and clean.device.type == "cuda" and hook.generator.device.type == "cuda"
    assert torch.equal(DeviceNoise(HeteroscedasticNoiseTransform(), "cuda", seed=0)(batch.cuda())[0], noisy)


def test_device_hook_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        DeviceNoise(GaussianNoiseTransform(), "cuda")


class DrawsPerItem(Dataset):
    """Each item: four uniforms from the loading process's worker generator."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        return torch.rand(4, generator=worker_generator(seed=11))


def worker_draws(seed):
    batches = list(
        DataLoader(DrawsPerItem(), batch_size=3, num_workers=2, generator=torch.Generator().manual_seed(seed))
    )
    return torch.cat(batches)


def test_worker_generators_are_distinct_per_worker_and_reproducible():
    draws = worker_draws(0)
    assert torch.equal(draws, worker_draws(0))
    assert not torch.equal(draws, worker_draws(1))
    # batch 0 comes from worker 0, batch 1 from worker 1; each worker's stream continues over its items
    assert not torch.equal(draws[0], draws[3])
    assert len({tuple(row.tolist()) for row in draws}) == 6


def test_worker_seed_outside_a_worker_is_the_seed():
    assert worker_seed(7) == 7
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        worker_seed(-3)
