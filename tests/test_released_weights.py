"""Every model released in weights/ loads by name, offline, strictly, and has a complete card."""

import os
import subprocess
import sys

import pytest

from noiseaug.hub import released_models, resolve

REQUIRED_CARD_SECTIONS = ["## Data", "## Training", "## Held-out metrics"]


def test_noiseflow_simcam_is_released():
    assert "noiseflow-simcam" in released_models()


@pytest.mark.parametrize("name", released_models())
def test_released_model_card_states_data_training_and_metrics(name):
    card = (resolve(name) / "README.md").read_text()
    for section in REQUIRED_CARD_SECTIONS:
        assert section in card, f"{name}: card misses {section!r}"
    assert "| Noise Flow |" in card or "PSNR" in card or "KLD" in card


def test_released_noiseflow_samples_offline_by_name():
    code = """
import torch
from noiseaug import NoiseFlowTransform
t = NoiseFlowTransform.from_pretrained("noiseflow-simcam", isos=[3200])
clean = torch.full((2, 4, 16, 16), 0.3)
noisy = t(clean, generator=torch.Generator().manual_seed(0))
std = float((noisy - clean).std())
assert torch.isfinite(noisy).all() and 0.005 < std < 0.2, std
print("ok", round(std, 4))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")


def test_released_naflow_adds_spatially_correlated_noise_offline_by_name():
    code = """
import torch
from noiseaug.demo import sample_pairs
from noiseaug.transforms.naflow import NAFlowTransform
pair = next(p for p in sample_pairs() if "cc15" in p.name.lower())
t = NAFlowTransform.from_pretrained("naflow-srgb", mode="reference", reference=(pair.noisy, pair.clean), clip=False)
posterior = t.reference_weights
noisy = t(pair.clean, generator=torch.Generator().manual_seed(0))
noise = (noisy - pair.clean)[0]
corr = float((noise[:, :, 1:] * noise[:, :, :-1]).mean() / noise.square().mean())
real = (pair.noisy - pair.clean)[0]
real_corr = float((real[:, :, 1:] * real[:, :, :-1]).mean() / real.square().mean())
assert abs(float(posterior.sum()) - 1) < 1e-5 and torch.isfinite(noisy).all()
assert 0.5 < float(noise.std() / real.std()) < 2, (float(noise.std()), float(real.std()))
assert corr > 0.25 and real_corr > 0.25, (corr, real_corr)  # demosaicked sRGB noise is correlated; i.i.d. gives ~0
print("ok", round(corr, 3), round(real_corr, 3))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")
