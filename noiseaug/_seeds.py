"""Seeds derived from tuples of integers (run seed, epoch, item, worker seed, ...), for ``torch.Generator``."""

from __future__ import annotations

import numpy as np


def mix_seeds(*parts: int) -> int:
    """A 63-bit seed from non-negative integers, through numpy's ``SeedSequence`` (well-mixed, order-sensitive).

    Different tuples give independent streams: ``mix_seeds(0, 1, 2)`` and ``mix_seeds(0, 2, 1)`` are unrelated,
    unlike sums or products of the parts. The result fits ``torch.Generator.manual_seed``.

    Examples:
        >>> mix_seeds(0, 1, 2) == mix_seeds(0, 1, 2), mix_seeds(0, 1, 2) == mix_seeds(0, 2, 1)
        (True, False)
        >>> 0 <= mix_seeds(7) < 2**63
        True
    """
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)
