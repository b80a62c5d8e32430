"""The DnCNN and NAFlow recipes on a CUDA device (``device="cuda"``): crops drawn on the CPU as on every device,
synthetic noise drawn on the device, scores that agree with the CPU's. Skipped without CUDA (CI has none);
``benchmarks/device_check.sh`` and ``benchmarks/device_phone_runs.sh`` run them on a GPU machine."""

import json

import pytest
import torch
from pair_helpers import write_dslr_training_data

from noiseaug import HeteroscedasticNoiseTransform
from noiseaug.data.batches import SynthesizedPairs
from noiseaug.data.real_srgb import RealCrops, RealPairs, real_srgb_split
from noiseaug.data.root import data_root
from noiseaug.recipes import DnCNNConfig, NAFlowConfig, run_recipe

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _need_shared_data() -> None:
    try:
        data_root()
    except FileNotFoundError as err:
        pytest.skip(f"shared data not available: {err}")


def _images(n: int, side: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, side, side, generator=g) for _ in range(n)]


@cuda
def test_synthetic_batches_share_the_cpu_crops_and_draw_their_noise_on_the_device():
    images = _images(3, 32, seed=1)
    noise = HeteroscedasticNoiseTransform(clip=False)
    on_cpu = SynthesizedPairs(images, noise, patch=16, batch_size=4, seed=3).batch(7)
    on_gpu = SynthesizedPairs(images, noise.to("cuda"), patch=16, batch_size=4, seed=3, device="cuda")
    first, again = on_gpu.batch(7), on_gpu.batch(7)
    assert first.need_noisy().device.type == "cuda" and first.need_clean().device.type == "cuda"
    assert torch.equal(first.need_clean().cpu(), on_cpu.need_clean())  # crops: drawn on the CPU
    assert torch.equal(first.need_noisy(), again.need_noisy())  # noise: reproducible on the device
    assert not torch.equal(first.need_noisy().cpu(), on_cpu.need_noisy())  # ... from its own generator


@cuda
def test_real_crops_are_the_same_on_every_device():
    _need_shared_data()
    pairs = RealPairs.load(real_srgb_split(sources=("sidd-train",))[0])
    on_cpu = RealCrops(pairs, [], 16, 4, seed=2).batch(3)
    on_gpu = RealCrops(pairs, [], 16, 4, seed=2, device="cuda").batch(3)
    assert all(on_gpu[k].device.type == "cuda" and torch.equal(on_gpu[k].cpu(), v) for k, v in on_cpu.items())


def _first_validation(run) -> dict:
    return next(entry for entry in json.loads((run / "history.json").read_text()) if "val_mse" in entry)


@cuda
def test_dncnn_recipe_trains_on_cuda_and_validates_like_the_cpu(tmp_path):
    _need_shared_data()
    small = dict(noise="real-phone", steps=2, batch=4, patch=16, depth=3, width=8, val_crops=8, val_every=2, lr=1e-9)
    for device in ("cpu", "cuda"):
        exports = run_recipe(DnCNNConfig(**small, device=device), tmp_path / device, progress=False)
        assert next(exports["denoiser"].parameters()).device.type == device
    cpu, gpu = (_first_validation(tmp_path / d) for d in ("cpu", "cuda"))
    assert gpu["val_mse"] == pytest.approx(cpu["val_mse"], rel=5e-3)  # same crops, same start; arithmetic differs
    small["noise"] = "naflow-phone-spread-tone"  # the flow noises the clean halves on the device
    flow = DnCNNConfig(**small, clean="sidd-train", val_on_real_pairs=True, device="cuda")
    run_recipe(flow, tmp_path / "flow", progress=False)
    assert (tmp_path / "flow" / "denoiser").is_dir()


@cuda
def test_naflow_recipe_trains_on_cuda_and_validates_like_the_cpu(tmp_path):
    write_dslr_training_data(tmp_path / "data")
    small = dict(data=str(tmp_path / "data"), sources="polyu,cc15", steps=2, batch=2, patch=16, lr=1e-9, val_crops=2)
    small |= dict(val_every=2, hidden=8, features=4, levels=2, blocks=1)
    for device in ("cpu", "cuda"):
        model = run_recipe(NAFlowConfig(**small, device=device), tmp_path / device, progress=False)["model"]
        assert model.means.device.type == device
    cpu, gpu = (json.loads((tmp_path / d / "history.json").read_text())[-1]["val_nll"] for d in ("cpu", "cuda"))
    assert gpu == pytest.approx(cpu, rel=5e-3)
