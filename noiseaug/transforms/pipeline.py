"""Noise transforms in a PyTorch training loop: in the Dataset, after ``batch.to(device)``, and per DataLoader worker.

Three places to add noise, each reproducible from a seed:

* :class:`NoisyPairs` wraps a Dataset of clean images and returns ``(noisy, clean)`` per item, noised in the
  DataLoader workers (CPU, one image at a time). The noise of item ``i`` in epoch ``e`` depends only on
  ``(seed, e, i)``: not on the worker, the batch size, shuffling or ``num_workers``.
* :class:`DeviceNoise` is the batch-side hook: ``noisy, clean = add_noise(batch)`` right after the batch reaches
  the GPU. One batched call per step, on the device, with the hook's own seeded generator. This is where flow
  noise (NAFlow, Noise Flow) is cheapest: a flow is a deep network, slow per image on a worker's CPU thread and
  fast on a whole batch on the GPU.
* :func:`worker_seed` / :func:`worker_generator` give each DataLoader worker its own reproducible generator, for
  datasets that call a transform themselves.
* :func:`capture_cuda_graph` records one call of a transform on a static CUDA batch as a CUDA graph, to replay
  each step with fresh noise.

Images are float ``(C, H, W)`` (items) or ``(B, C, H, W)`` (batches) in [0, 1], as everywhere in noiseaug.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, get_worker_info

from .._seeds import mix_seeds
from .._validation import check_device, check_seed, check_validate
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .base import NoiseTransform

#: Where the clean image sits in a dataset item or a collated batch: a dict key, or a tuple/list position.
ImageKey = str | int


def _check_transform(transform: object, owner: str) -> NoiseTransform:
    if not isinstance(transform, NoiseTransform):
        raise NoiseaugTypeError(
            f"{owner}: transform must be a noiseaug NoiseTransform (e.g. GaussianNoiseTransform()), "
            f"got {type(transform).__name__}"
        )
    return transform


def _check_image_key(image_key: object) -> ImageKey:
    if isinstance(image_key, bool) or not isinstance(image_key, (str, int)):
        raise NoiseaugTypeError(f"image_key must be a dict key (str) or a tuple position (int), got {image_key!r}")
    return image_key


def clean_image(item: object, image_key: ImageKey, what: str = "item") -> Tensor:
    """The clean image of a dataset item or a collated batch: the tensor itself, ``item[image_key]`` for a dict,
    or ``item[image_key]`` for a tuple/list when ``image_key`` is an int."""
    if isinstance(item, Tensor):
        return item
    if isinstance(item, Mapping):
        if image_key not in item:
            raise NoiseaugInputError(
                f"the {what} is a dict without the key image_key={image_key!r}; its keys are "
                f"{sorted(map(str, item))}: pass image_key= naming the clean image"
            )
        image = item[image_key]
    elif isinstance(item, Sequence) and not isinstance(item, str):
        if not isinstance(image_key, int):
            raise NoiseaugTypeError(
                f"the {what} is a {type(item).__name__}; pass image_key=<position> (an int, e.g. 0) "
                f"instead of {image_key!r}"
            )
        image = item[image_key]
    else:
        raise NoiseaugTypeError(
            f"the {what} must be an image tensor, a dict or a tuple holding one, got {type(item).__name__}"
        )
    if not isinstance(image, Tensor):
        raise NoiseaugTypeError(
            f"the {what}'s entry image_key={image_key!r} must be a tensor, got {type(image).__name__}"
        )
    return image


class NoisyPairs(Dataset):
    """``(noisy, clean)`` pairs for denoiser training: each item of ``dataset`` noised by ``transform``.

    Args:
        dataset: a map-style Dataset (anything with ``__getitem__`` and ``__len__``) of clean images: float
            ``(C, H, W)`` tensors in [0, 1], or dicts (tuples) holding one under ``image_key``.
        transform: any :class:`~noiseaug.transforms.base.NoiseTransform`; it runs where the item is loaded
            (DataLoader workers: CPU), one image per call. Its ``p`` applies per image.
        seed: a non-negative int; the run's noise seed.
        image_key: the dict key (str) or tuple position (int) of the clean image in an item.

    Item ``i`` is ``(noisy, clean)``, both shaped like the clean image. Its noise comes from a generator seeded
    with ``(seed, epoch, i)``, so it is the same whatever worker loads it, in whatever order, with any
    ``num_workers``. Call :meth:`set_epoch` before each epoch for new noise; the epoch lives in shared memory,
    so this reaches ``persistent_workers`` too (set it before the epoch's ``iter(loader)``).

    Examples:
        >>> import torch
        >>> from torch.utils.data import DataLoader
        >>> from noiseaug import GaussianNoiseTransform
        >>> clean = [torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(4)]
        >>> pairs = NoisyPairs(clean, GaussianNoiseTransform(sigma=0.1), seed=0)
        >>> noisy, target = next(iter(DataLoader(pairs, batch_size=4)))
        >>> noisy.shape, torch.equal(target, torch.stack(clean))
        (torch.Size([4, 3, 16, 16]), True)
        >>> torch.equal(pairs[2][0], pairs[2][0])       # item 2's noise depends on (seed, epoch, 2) only
        True
        >>> pairs.set_epoch(1)
        >>> torch.equal(pairs[2][0], noisy[2])          # new epoch, new noise
        False
    """

    def __init__(
        self, dataset: Any, transform: NoiseTransform, *, seed: int = 0, image_key: ImageKey = "image"
    ) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise NoiseaugTypeError(
                f"dataset must be a map-style Dataset (with __getitem__ and __len__), got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.transform = _check_transform(transform, "NoisyPairs")
        self.seed = check_seed(seed)
        self.image_key = _check_image_key(image_key)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch`` (a non-negative int) for the next items, in this process and in the workers."""
        self._epoch.fill_(check_seed(epoch, "epoch"))

    def __len__(self) -> int:
        return len(self.dataset)

    def item_seed(self, index: int) -> int:
        """The noise seed of item ``index`` in the current epoch."""
        return mix_seeds(self.seed, self.epoch, index)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        index = operator.index(index)
        if index < 0:
            index += len(self)
        clean = clean_image(self.dataset[index], self.image_key, f"dataset item {index}")
        generator = torch.Generator(device=clean.device).manual_seed(self.item_seed(index))
        with torch.no_grad():
            noisy = self.transform(clean, generator=generator)
        return noisy, clean

    def __repr__(self) -> str:
        return f"NoisyPairs({len(self)} items, seed={self.seed}, epoch={self.epoch}, transform={self.transform})"


class DeviceNoise:
    """The batch-side hook: ``noisy, clean = add_noise(batch)`` after the batch reaches ``device``.

    Args:
        transform: any :class:`~noiseaug.transforms.base.NoiseTransform`; moved to ``device`` here (in place, as
            ``nn.Module.to`` does).
        device: where the noise is computed, e.g. ``"cuda"``.
        seed: a non-negative int seeding the hook's own ``torch.Generator`` on ``device``.
        image_key: for dict (tuple) batches, the key (position) of the clean images.
        validate: if given, sets the transform's ``validate`` (``"sync"``, ``"async"`` or ``"off"``; see
            :class:`~noiseaug.transforms.base.NoiseTransform`). On CUDA, ``"async"`` or ``"off"`` keeps the
            call free of host syncs (for flows with ``p < 1``, gathering the selected rows is one sync).

    A call takes a collated batch: a ``(B, C, H, W)`` tensor in [0, 1], or a dict/tuple holding one; images that
    are not on ``device`` yet are moved there (``non_blocking``). It returns ``(noisy, clean)``, both on
    ``device``, noised in one batched call without an autograd graph. Successive calls continue the generator's
    stream, so a run repeats from the seed; :meth:`state_dict` / :meth:`load_state_dict` save and restore the
    stream with a checkpoint.

    This is the cheapest place for flow noise (``NAFlowTransform``, ``NoiseFlowTransform``): one batched network
    call on the GPU per step, instead of one call per image on a DataLoader worker's CPU thread.

    Examples:
        >>> import torch
        >>> from noiseaug import HeteroscedasticNoiseTransform
        >>> add_noise = DeviceNoise(HeteroscedasticNoiseTransform(), device="cpu", seed=0)
        >>> batch = {"image": torch.rand(8, 3, 16, 16), "label": torch.arange(8)}
        >>> noisy, clean = add_noise(batch)            # in a loop: for batch in loader: noisy, clean = add_noise(batch)
        >>> noisy.shape, clean is batch["image"]
        (torch.Size([8, 3, 16, 16]), True)
        >>> DeviceNoise(HeteroscedasticNoiseTransform(), seed=0)(batch)[0].equal(noisy)   # same seed, same noise
        True
    """

    def __init__(
        self,
        transform: NoiseTransform,
        device: str | torch.device = "cpu",
        *,
        seed: int = 0,
        image_key: ImageKey = "image",
        validate: str | None = None,
    ) -> None:
        self.device = check_device(device)
        self.transform = _check_transform(transform, "DeviceNoise").to(self.device)
        if validate is not None:
            self.transform.validate = check_validate(validate)
        self.seed = check_seed(seed)
        self.image_key = _check_image_key(image_key)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)

    def __call__(self, batch: Tensor | Mapping[str, Any] | Sequence[Any]) -> tuple[Tensor, Tensor]:
        clean = clean_image(batch, self.image_key, "batch").to(self.device, non_blocking=True)
        with torch.no_grad():
            noisy = self.transform(clean, generator=self.generator)
        return noisy, clean

    def state_dict(self) -> dict[str, Tensor]:
        """The generator's state (a CPU uint8 tensor), to save with a training checkpoint."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore the stream saved by :meth:`state_dict`: later calls repeat the saved run's noise."""
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return f"DeviceNoise(device={str(self.device)!r}, seed={self.seed}, transform={self.transform})"


def worker_seed(seed: int = 0) -> int:
    """This process's noise seed: in a DataLoader worker, ``seed`` mixed with the worker's own seed; else ``seed``.

    PyTorch gives worker ``k`` the seed ``base_seed + k``, where ``base_seed`` is drawn from the DataLoader's
    ``generator`` (or torch's global RNG) each time an iterator starts its workers. So workers get different
    seeds, and a run repeats when the DataLoader's generator is seeded. Which items a worker loads depends on
    ``num_workers`` and ``batch_size``: use :class:`NoisyPairs` for noise that does not.
    """
    seed = check_seed(seed)
    info = get_worker_info()
    return seed if info is None else mix_seeds(seed, info.seed)


_GENERATORS: dict[tuple[Any, ...], torch.Generator] = {}


def worker_generator(seed: int = 0, device: str | torch.device = "cpu") -> torch.Generator:
    """The calling process's generator on ``device``, seeded with :func:`worker_seed` at the first call, then reused.

    Call it inside ``Dataset.__getitem__``: each DataLoader worker gets its own stream (one per ``seed`` and
    ``device``), which continues across the items that worker loads; the main process (``num_workers=0``) has
    one too. Usable as a generator factory::

        def __getitem__(self, i):
            return self.add_noise(self.images[i], generator=worker_generator(seed=7))

    Examples:
        >>> g = worker_generator(seed=3)
        >>> g is worker_generator(seed=3), g.initial_seed()      # outside a worker: the seed itself
        (True, 3)
    """
    seed, device = check_seed(seed), check_device(device)
    info = get_worker_info()
    key = (os.getpid(), None if info is None else (info.id, info.seed), seed, str(device))
    if key not in _GENERATORS:
        _GENERATORS[key] = torch.Generator(device=device).manual_seed(worker_seed(seed))
    return _GENERATORS[key]


def capture_cuda_graph(
    transform: torch.nn.Module, images: Tensor, generator: torch.Generator
) -> tuple[Callable[[], None], Tensor]:
    """Capture ``transform(images, generator=generator)`` in a CUDA graph: returns ``(replay, output)``.

    ``images`` is a static CUDA batch (copy each step's batch into it) and ``output`` the static tensor every
    ``replay()`` rewrites. The generator is registered with the graph, so each replay draws new noise. Two
    warm-up calls run on a side stream first, as torch requires; use a transform that does not read values
    back to the host (``validate="async"`` or ``"off"``). No autograd graph is recorded.
    """
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(2):
            transform(images, generator=generator)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    graph.register_generator_state(generator)
    with torch.cuda.graph(graph), torch.no_grad():
        output = transform(images, generator=generator)
    return graph.replay, output
