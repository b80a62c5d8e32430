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
    assert "| Noise Flow |" in card or "PSNR" in card


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
