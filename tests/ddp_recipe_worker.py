"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: a recipe through ``run_recipe``.

``python ddp_recipe_worker.py RECIPE OUT``: trains RECIPE for a few steps into OUT/run on tiny images, and writes
OUT/rank<r>.pt with this rank's final weights, its training batch 1, and every file write it attempted
(checkpoints, run.json, history.json, exports), so the test can check that only rank 0 writes.
"""

import sys
from pathlib import Path

import torch

import noiseaug.recipes.driver as driver
import noiseaug.training.loop as loop
import noiseaug.training.run_record as run_record
from noiseaug.imageio import write_png
from noiseaug.recipes import DnCNNConfig, NoiseFlowConfig, run_recipe
from noiseaug.training import distributed_rank

recipe, out = sys.argv[1], Path(sys.argv[2])
images = out / "images"
if not images.is_dir():  # both ranks write the same bytes, atomically
    for i in range(3):
        write_png(images / f"img{i}.png", torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(i)))

writes: list[str] = []


def spy(module, name):
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        writes.append(f"{name} {next(a for a in args if isinstance(a, (str, Path)) and '/' in str(a))}")
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


spy(loop, "save_checkpoint")
spy(loop, "atomic_write_text")
spy(run_record, "atomic_write_text")
spy(driver, "save_pretrained")
batches: list[torch.Tensor] = []
train_step = loop.Trainer.train_step


def recording_step(self, step):
    if step == 1:
        batch = self.batches.batch(1)
        batches.append(batch.noisy_raw[0] if hasattr(batch, "noisy_raw") else batch.noisy)
    return train_step(self, step)


loop.Trainer.train_step = recording_step
common = {"images": str(images), "steps": 4, "batch": 2, "patch": 16, "val_every": 4, "seed": 3}
config = (
    NoiseFlowConfig(**common, val_batches=1)
    if recipe == "noiseflow"
    else DnCNNConfig(**common, noise="awgn", val_images=str(images), depth=3, width=8, val_crops=2)
)
exports = run_recipe(config, out / "run", progress=False)
rank, world = distributed_rank()
assert world == 2, f"expected 2 processes, got {world}"
module = next(iter(exports.values()))
parameters = {name: p.detach() for name, p in module.named_parameters()}  # buffers (BatchNorm statistics) are
# rank-local after the last step: DDP broadcasts rank 0's at each forward, and rank 0's are the ones saved
torch.save({"state": parameters, "batch": batches[0], "writes": writes}, out / f"rank{rank}.pt")
