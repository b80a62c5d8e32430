"""The one driver every recipe runs through: :func:`run_stages` (called by :func:`noiseaug.recipes.run_recipe`).

A recipe is a config dataclass (a :class:`RecipeConfig`) and a ``build(config, ctx)`` that yields its
:class:`Stage` objects: what to minimise, the batches, the validation, the schedule and the exports (the
modules written with :func:`~noiseaug.hub.save_pretrained` at the end). The driver owns everything else,
the same way for every recipe:

* **DDP**: :func:`~noiseaug.training.loop.init_distributed` (a no-op outside ``torchrun``), so every recipe
  trains data-parallel under ``torchrun``; rank 0 alone validates, checkpoints, writes ``run.json`` and the
  exports; the ranks wait for each other after each stage (a later stage may read an earlier one's export).
* **Seeds**: every seed of a run is ``mix_seeds(config.seed, rank, stream)`` (:func:`stream_seed`), one named
  stream per use (``"init"``, ``"train"``, ``"validation"``, ...; the name is hashed with CRC-32). Streams a
  rank draws on its own (its training batches) use its rank; streams that must agree across ranks
  (weight initialisation, validation) use rank 0's value on every rank.
* **run.json and resume**: :func:`~noiseaug.training.run_record.recorded_run` (the options recorded are
  the config's fields, ``out`` and ``model``, the recipe's name).
* **Schedule**: Adam at the stage's ``lr``, x0.1 at 75 % of its steps; ``best.pt`` by its ``best_key``.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch.distributed as dist
from torch import nn

from .._seeds import mix_seeds
from .._validation import check_seed
from ..errors import NoiseaugInputError
from ..hub import save_pretrained
from ..training.loop import BatchSource, TrainConfig, Trainer, ValidateFn, init_distributed, seeded
from ..training.run_record import recorded_run
from .flags import literal_choices


def stream_seed(seed: int, rank: int, stream: str) -> int:
    """The seed of the named ``stream`` of rank ``rank`` in a run seeded with ``seed``:
    ``mix_seeds(seed, rank, crc32(stream))``.

    Examples:
        >>> stream_seed(0, 0, "train") == stream_seed(0, 0, "train"), stream_seed(0, 0, "train") == stream_seed(0, 1, "train")
        (True, False)
    """
    return mix_seeds(seed, rank, zlib.crc32(stream.encode()))


@dataclass(kw_only=True)
class RecipeConfig:
    """What every recipe's config holds: the run seed (every seed of the run derives from it, :func:`stream_seed`).
    Subclasses are ``@dataclass(kw_only=True)``; ``recipe`` names the ``noiseaug train`` command, ``outputs``
    describes what the run folder receives (for ``--out``'s help). A ``Literal[...]`` field holding another value
    fails here, naming the field."""

    recipe: ClassVar[str]
    outputs: ClassVar[str]

    seed: int = field(
        default=0, metadata={"help": "run seed: every batch, initialisation and validation draw derives from it"}
    )

    def __post_init__(self) -> None:
        check_seed(self.seed)
        for name, choices in literal_choices(type(self)).items():
            value = getattr(self, name)
            if value is not None and value not in choices:
                raise NoiseaugInputError(f"{name} must be one of {list(choices)}, got {value!r}")


@dataclass
class RunContext:
    """What a recipe's ``build`` may know of its run: the seeds, this process's rank and the run folder."""

    seed: int
    rank: int
    world_size: int
    out: Path

    def rank_seed(self, stream: str) -> int:
        """This rank's seed of ``stream`` (its own batches: different on every rank)."""
        return stream_seed(self.seed, self.rank, stream)

    def shared_seed(self, stream: str) -> int:
        """Rank 0's seed of ``stream``, the same on every rank (initialisation, validation)."""
        return stream_seed(self.seed, 0, stream)

    def init(self, stream: str = "init") -> contextlib.AbstractContextManager[None]:
        """A block whose weight initialisation draws from ``stream`` (:func:`~noiseaug.training.loop.seeded`)."""
        return seeded(self.shared_seed(stream))


@dataclass
class Stage:
    """One training stage of a recipe.

    ``objective`` (owning every trained network) is minimised over ``batches`` for ``steps`` steps with Adam at
    ``lr`` (or the Adam groups ``parameters``), gradient norm clipped at ``grad_clip``; ``validate`` runs every
    ``val_every`` steps and ``best_key`` (lower is better) picks ``best.pt``. Checkpoints go to ``OUT/folder``;
    at the end rank 0 writes each of ``exports`` (folder name -> module) under it, with the best weights.
    """

    objective: nn.Module
    batches: BatchSource
    validate: ValidateFn
    steps: int
    lr: float
    val_every: int
    exports: dict[str, nn.Module]
    best_key: str = "val_nll"
    grad_clip: float | None = None
    parameters: list[dict[str, Any]] | None = None
    folder: str = ""


Build = Callable[[Any, RunContext], Iterator[Stage]]


def _barrier(world_size: int) -> None:
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        dist.barrier()


def run_stages(
    config: RecipeConfig, build: Build, out: str | Path, *, resume: bool = True, progress: bool = True
) -> dict[str, nn.Module]:
    """Run every stage ``build(config, ctx)`` yields (see the module docs); returns the exports by path under
    ``out`` (e.g. ``"denoiser"``, ``"prior/model"``), with their best weights on rank 0."""
    rank, world_size = init_distributed()
    out = Path(out)
    ctx = RunContext(config.seed, rank, world_size, out)
    options = {**asdict(config), "out": str(out), "model": config.recipe}
    exports: dict[str, nn.Module] = {}
    with recorded_run(config.recipe, options, resume, rank):
        for stage in build(config, ctx):
            folder = out / stage.folder if stage.folder else out
            schedule = TrainConfig(
                steps=stage.steps,
                lr=stage.lr,
                lr_decay_at=(int(0.75 * stage.steps),),
                val_every=stage.val_every,
                grad_clip=stage.grad_clip,
            )
            Trainer(
                stage.objective,
                stage.batches,
                stage.validate,
                folder,
                schedule,
                best_key=stage.best_key,
                progress=progress,
                parameters=stage.parameters,
            ).run(resume)
            for name, module in stage.exports.items():
                if rank == 0:
                    save_pretrained(module.eval(), folder / name)
                    if progress:
                        print(f"{name} written to {folder / name} (config.json + model.safetensors)")
                exports[f"{stage.folder}/{name}" if stage.folder else name] = module
            _barrier(world_size)
    return exports
