"""The installed ``noiseaug`` command, run as a user would (a real subprocess)."""

import json
import shutil
import subprocess
import sys
import time

import pytest
import torch

from noiseaug.imageio import read_image


def _noiseaug(*args, cwd):
    exe = shutil.which("noiseaug")
    command = [exe, *args] if exe else [sys.executable, "-m", "noiseaug", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_demo_runs_offline_quickly_and_writes_table_and_figure(tmp_path, monkeypatch):
    start = time.perf_counter()
    result = _noiseaug("demo", "--out", "demo-out", "--seed", "3", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert elapsed < 60
    assert "| image | model | noise std (0-255)" in result.stdout
    rows = json.loads((tmp_path / "demo-out" / "demo.json").read_text())
    models = {r["model"] for r in rows}
    assert {"real", "AWGN (fitted)", "NLF (fitted)", "Poisson-Gaussian (fitted)"} <= models
    assert len({r["image"] for r in rows}) == 3
    for row in rows:
        if row["model"] == "NAFlow (noise-aware)":  # no fitted level: checked by the benchmarks, not here
            assert 0 <= row["kld"] and 0 <= row["akld"]
        elif row["model"] != "real":
            real = next(r for r in rows if r["image"] == row["image"] and r["model"] == "real")
            # fitted models reproduce the real noise level within 25 % (clipping and 8-bit rounding)
            assert row["noise_std_255"] == pytest.approx(real["noise_std_255"], rel=0.25)
            assert 0 <= row["kld"] < 1 and 0 <= row["akld"] < 2
    figure = read_image(tmp_path / "demo-out" / "demo.png")
    assert figure.shape[1] > 3 * 128 and figure.shape[2] > 5 * 128


def test_demo_is_deterministic_for_a_seed(tmp_path):
    for name in ("a", "b"):
        assert _noiseaug("demo", "--out", name, cwd=tmp_path).returncode == 0
    assert (tmp_path / "a" / "demo.json").read_text() == (tmp_path / "b" / "demo.json").read_text()
    assert torch.equal(read_image(tmp_path / "a" / "demo.png"), read_image(tmp_path / "b" / "demo.png"))


def test_unknown_command_exits_with_usage(tmp_path):
    result = _noiseaug("frobnicate", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr
