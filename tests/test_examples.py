"""The scripts in examples/ run end to end (a few steps, tiny data, CPU, in a subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from noiseaug import DnCNN
from noiseaug.imageio import write_png

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_train_denoiser_naflow_runs_and_reports_psnr_on_the_real_pairs(tmp_path):
    g = torch.Generator().manual_seed(0)
    for name in ("a", "b"):
        write_png(tmp_path / "clean" / f"{name}.png", torch.rand(3, 40, 36, generator=g))
    command = [
        sys.executable,
        str(EXAMPLES / "train_denoiser_naflow.py"),
        "--steps",
        "3",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
        "--images",
        str(tmp_path / "clean"),
        "--batch",
        "4",
        "--patch",
        "32",
        "--workers",
        "0",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3/3" in result.stderr  # the tqdm bar reached the last step
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["real_pairs"]) == 3
    for row in results["real_pairs"]:
        assert 15 < row["noisy_psnr"] < 45 and 0 < row["denoised_psnr"] < 60
        assert row["image"] in result.stdout
    net = DnCNN.from_pretrained(tmp_path / "run" / "denoiser")
    assert (net.depth, net.width) == (5, 16)
