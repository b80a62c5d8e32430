"""Real multi-process data-parallel training: 2 processes under torchrun with the gloo backend."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.slow
def test_two_process_torchrun_training_keeps_ranks_identical(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", str(WORKER), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert not torch.equal(rank0["first_batch"], rank1["first_batch"])  # each rank trained on its own data
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), name
    assert (tmp_path / "run" / "last.pt").is_file()  # rank 0 checkpointed
    start = rank0["state"]["layers.1.layers.2.net.4.weight"]
    assert start.abs().sum() > 0  # the zero-initialised coupling output moved: training happened


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["noiseflow", "dncnn"])
def test_every_recipe_trains_data_parallel_through_the_driver_and_only_rank_0_writes(tmp_path, recipe):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_recipe_worker.py")
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", str(worker), recipe, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert not torch.equal(rank0["batch"], rank1["batch"])  # each rank drew its own batches (its own seed stream)
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), name  # DDP kept the ranks' parameters identical
    assert rank1["writes"] == []  # rank 1 wrote nothing: no checkpoint, run.json, history or export
    written = " ".join(rank0["writes"])
    assert "last.pt" in written and "run.json" in written and "history.json" in written
    run = tmp_path / "run"
    export = "model" if recipe == "noiseflow" else "denoiser"
    assert (run / export / "model.safetensors").is_file() and (run / "run.json").is_file()
    assert json.loads((run / "run.json").read_text())["recipe"] == recipe
