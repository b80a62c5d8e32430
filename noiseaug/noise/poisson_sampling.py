"""Exact Poisson draws that use every CPU thread: ``torch.poisson`` in fixed chunks, one generator per chunk.

``torch.poisson`` on the CPU is a serial kernel (one draw after the other, whatever ``torch.get_num_threads()``),
so on a multi-core CPU it is the cost of Poisson-Gaussian noise. :func:`sample_poisson` cuts a large CPU tensor
into chunks of :data:`CHUNK` elements, seeds one generator per chunk from the caller's generator and draws the
chunks on ``torch.get_num_threads()`` threads (``torch.poisson`` releases the GIL). The chunks and their seeds do
not depend on the thread count, so the output does not either.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

#: Elements per chunk; a CPU tensor of at most this many elements is drawn by one ``torch.poisson`` call.
CHUNK = 1 << 16

_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def sample_poisson(rate: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``Poisson(rate)`` draws (exact), same shape, dtype and device as ``rate`` (``rate >= 0``).

    On CUDA, under ``torch.compile`` and for CPU tensors of at most :data:`CHUNK` elements this is
    ``torch.poisson(rate, generator)``. Larger CPU tensors consume one 63-bit seed per chunk from ``generator``
    (torch's global RNG when None) and draw each chunk with its own generator.

    Examples:
        >>> import torch
        >>> rate = torch.full((4, 3, 128, 128), 20.0)
        >>> a = sample_poisson(rate, torch.Generator().manual_seed(0))
        >>> b = sample_poisson(rate, torch.Generator().manual_seed(0))
        >>> torch.equal(a, b), round(float(a.mean())), round(float(a.var()))
        (True, 20, 20)
    """
    if rate.device.type != "cpu" or rate.numel() <= CHUNK or torch.compiler.is_compiling():
        return torch.poisson(rate, generator=generator)
    flat = rate.reshape(-1)
    chunks = -(-flat.numel() // CHUNK)
    seeds = torch.randint(0, 2**63 - 1, (chunks,), generator=generator).tolist()
    out = torch.empty_like(flat)

    def draw(index: int) -> None:
        part = slice(index * CHUNK, (index + 1) * CHUNK)
        out[part] = torch.poisson(flat[part], generator=torch.Generator().manual_seed(seeds[index]))

    workers = min(torch.get_num_threads(), chunks)
    if workers <= 1:
        for index in range(chunks):
            draw(index)
    else:
        list(_pool(workers).map(draw, range(chunks)))
    return out.view(rate.shape)


def _pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads for this process (a forked child, e.g. a DataLoader worker, makes its own)."""
    key = (os.getpid(), workers)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="noiseaug-poisson")
    return _pools[key]
