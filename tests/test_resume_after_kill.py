"""A training run killed with SIGKILL and resumed ends with the same weights as an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from noiseaug.imageio import write_png


def _train(images, out, steps=40):
    command = [
        sys.executable,
        "-m",
        "noiseaug",
        "train",
        "noiseflow",
        "--images",
        str(images),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch",
        "4",
        "--patch",
        "8",
        "--val-every",
        "5",
        "--val-batches",
        "1",
    ]
    return subprocess.Popen(
        command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    images = tmp_path / "images"
    for i in range(3):
        write_png(images / f"img{i}.png", torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(i)))

    reference = _train(images, tmp_path / "reference")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()[-2000:]

    victim = _train(images, tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "last.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and victim.poll() is None:
        time.sleep(0.05)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    killed_at = torch.load(checkpoint, weights_only=True)["state"]["step"]
    assert 0 < killed_at < 40

    resumed = _train(images, tmp_path / "killed")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    assert f"resumed from {checkpoint} at step {killed_at}" in out

    expected = load_file(str(tmp_path / "reference" / "model" / "model.safetensors"))
    actual = load_file(str(tmp_path / "killed" / "model" / "model.safetensors"))
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name  # bit-identical: same batches, same order, one thread
