"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: a few DDP steps of Noise Flow.

Each rank draws its own batches (seed + rank) and writes its final weights to OUT/rank<r>.pt.
"""

import sys
from pathlib import Path

import torch

from noiseaug.data import SimulatedCamera, SimulatedRawPairs
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.training import SupervisedNLL, TrainConfig, Trainer, init_distributed

out = Path(sys.argv[1])
rank, world = init_distributed()
assert world == 2, f"expected 2 processes, got {world}"
images = [
    torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(i)) for i in range(3)
]
camera = SimulatedCamera()
torch.manual_seed(rank)  # different initial weights per rank: DDP must broadcast rank 0's
flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos])
with torch.no_grad():
    for p in flow.parameters():
        p.add_(0.01 * torch.randn(p.shape))
batches = SimulatedRawPairs(images, camera, patch_size=8, batch_size=4, seed=100 + rank)
trainer = Trainer(
    SupervisedNLL(flow),
    batches,
    lambda: {"val_nll": 0.0},
    out / "run",
    TrainConfig(steps=5, lr=1e-2, val_every=5),
    progress=False,
)
trainer.fit()
torch.save({"state": flow.state_dict(), "first_batch": batches.batch(1).noisy_raw[0]}, out / f"rank{rank}.pt")
