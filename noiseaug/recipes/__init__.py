"""Recipes: one config dataclass and one ``build(config, ctx)`` per ``noiseaug train`` command, run by
:func:`run_recipe` (the driver in :mod:`noiseaug.recipes.driver`: DDP, seeds, ``run.json``, resume, exports).

Example (a Python run, the same as ``noiseaug train dncnn --noise awgn --steps 1000 --out runs/awgn``):
``run_recipe(DnCNNConfig(noise="awgn", steps=1000), "runs/awgn")`` returns ``{"denoiser": DnCNN(...)}``.

A new recipe is a module here (its config, a subclass of :class:`RecipeConfig` with a ``recipe`` name, and
its ``build``) plus one line in :data:`RECIPES`; ``noiseaug train NAME`` and its options follow from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from torch import nn

from ..errors import NoiseaugTypeError
from . import clean_free, dncnn, flow_prior, naflow, neighbor2neighbor, noiseflow
from .clean_free import CleanFreeConfig, N2NConfig, N2NFlowConfig, Nbr2FlowConfig, R2RFlowConfig
from .dncnn import DnCNNConfig
from .driver import RecipeConfig, RunContext, Stage, run_stages, stream_seed
from .flow_prior import FlowPriorConfig
from .naflow import NAFlowConfig
from .neighbor2neighbor import Neighbor2NeighborConfig
from .noiseflow import NoiseFlowConfig


class Recipe(NamedTuple):
    """A ``noiseaug train`` command: its config class and the ``build`` that turns a config into stages."""

    config: type[RecipeConfig]
    build: Callable[[Any, RunContext], Iterator[Stage]]


#: Every recipe by its ``noiseaug train`` name, in the order ``noiseaug train --help`` lists them.
RECIPES: dict[str, Recipe] = {
    config.recipe: Recipe(config, build)
    for config, build in (
        (DnCNNConfig, dncnn.build),
        (NoiseFlowConfig, noiseflow.build),
        (NAFlowConfig, naflow.build),
        (N2NFlowConfig, clean_free.build),
        (N2NConfig, clean_free.build),
        (R2RFlowConfig, clean_free.build),
        (Nbr2FlowConfig, clean_free.build),
        (Neighbor2NeighborConfig, neighbor2neighbor.build),
        (FlowPriorConfig, flow_prior.build),
    )
}


def run_recipe(
    config: RecipeConfig, out: str | Path, *, resume: bool = True, progress: bool = True
) -> dict[str, nn.Module]:
    """Train ``config``'s recipe into the run folder ``out`` (resuming from its checkpoints if ``resume``); returns
    the exported modules by their path under ``out`` (e.g. ``{"denoiser": ...}``, ``{"prior/model": ...}``)."""
    recipe = RECIPES.get(getattr(config, "recipe", ""))
    if recipe is None or type(config) is not recipe.config:
        raise NoiseaugTypeError(
            f"config must be one of the recipe configs {[r.config.__name__ for r in RECIPES.values()]}, "
            f"got {type(config).__name__}"
        )
    return run_stages(config, recipe.build, out, resume=resume, progress=progress)


__all__ = [
    "RECIPES",
    "CleanFreeConfig",
    "DnCNNConfig",
    "FlowPriorConfig",
    "N2NConfig",
    "N2NFlowConfig",
    "NAFlowConfig",
    "Nbr2FlowConfig",
    "Neighbor2NeighborConfig",
    "NoiseFlowConfig",
    "R2RFlowConfig",
    "Recipe",
    "RecipeConfig",
    "RunContext",
    "Stage",
    "run_recipe",
    "stream_seed",
]
