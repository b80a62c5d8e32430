"""The recipe that trains Noise Flow on the simulated camera (used by ``noiseaug train noiseflow``).

Data: clean sRGB images split by image (scene) with :func:`~noiseaug.data.splits.split_scenes`
(20 % held out), unprocessed to raw and noised by :class:`~noiseaug.data.camera.SimulatedCamera`
(all five cameras, all ISOs). Training batches are drawn fresh each step; the validation set is a
fixed, balanced set of patches from the held-out images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.camera import SimulatedCamera
from ..data.simulated_pairs import SimulatedRawPairs, read_image_folder
from ..data.splits import split_scenes
from ..flows.layers import Gain, SignalDependent
from ..flows.noise_flow import NoiseFlow
from ..hub import save_pretrained
from .loop import run_trainer, seeded
from .supervised_flow import SupervisedNLL, validation


@dataclass
class SimCamSplit:
    train: SimulatedRawPairs
    test: SimulatedRawPairs
    test_names: list[str]


def simcam_split(image_folder: str | Path, camera: SimulatedCamera, patch_size: int, batch_size: int, seed: int,
                 test_fraction: float = 0.2, captures: int = 1) -> SimCamSplit:
    """Training stream from the train images; balanced test stream (seed + 10_000) from the held-out ones."""
    images = read_image_folder(image_folder)
    names = list(images)
    train_idx, test_idx = split_scenes(names, test_fraction)
    train = SimulatedRawPairs([images[names[i]] for i in train_idx], camera, patch_size, batch_size, seed, captures)
    test = SimulatedRawPairs([images[names[i]] for i in test_idx], camera, patch_size, batch_size, seed + 10_000,
                             captures, balanced=True)
    return SimCamSplit(train, test, [names[i] for i in test_idx])


#: Learning-rate multiplier for the signal-dependent and gain layers. Their few parameters live in log
#: space and start at the paper's near-identity values, several units (e.g. log(beta1/beta2) from
#: -9 to +5..+9 on the simulator) from where the data puts them: at the base rate Adam needs >10k
#: steps to get there, at 10x about a tenth of that.
CONDITIONAL_LR_MULTIPLIER = 10.0


def parameter_groups(model: NoiseFlow, lr: float) -> list[dict]:
    """Adam groups: the conditional (S, G) layers at ``CONDITIONAL_LR_MULTIPLIER * lr``, the rest at ``lr``."""
    conditional = [p for m in model.modules() if isinstance(m, (SignalDependent, Gain)) for p in m.parameters()]
    ids = {id(p) for p in conditional}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}, {"params": conditional, "lr": CONDITIONAL_LR_MULTIPLIER * lr}]


def train_noiseflow(image_folder: str | Path, out_dir: str | Path, *, steps: int = 20_000, batch_size: int = 32,
                    patch_size: int = 32, lr: float = 1e-3, val_batches: int = 16, val_every: int = 1000,
                    variant: str = "full", pixel_independent: bool = False, seed: int = 0, resume: bool = True,
                    progress: bool = True) -> NoiseFlow:
    """Train (or resume) Noise Flow on the simulated camera; writes checkpoints and ``out_dir/model``."""
    camera = SimulatedCamera.pixel_independent() if pixel_independent else SimulatedCamera()
    split = simcam_split(image_folder, camera, patch_size, batch_size, seed)
    with seeded(seed):
        model = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant=variant)
    val_draws = [split.test.batch(k) for k in range(val_batches)]
    run_trainer(SupervisedNLL(model), split.train, validation(model, val_draws, seed), out_dir, steps=steps, lr=lr,
                val_every=val_every, seed=seed, resume=resume, progress=progress,
                parameters=parameter_groups(model, lr))
    save_pretrained(model.eval(), Path(out_dir) / "model")
    return model
