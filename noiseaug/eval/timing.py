"""Timing helpers of the speed benchmarks: synchronised wall-clock timing, the DnCNN training step they are
measured against, the options they share and a description of the hardware.

Times are wall-clock seconds (``time.perf_counter``); on CUDA every timed call is bracketed by
``torch.cuda.synchronize()``, so a time includes the kernels the call launched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from ..hub import resolve


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device) -> dict[str, object]:
    """CPU, CPU count, torch threads and versions, the device (and the GPU's name and CUDA version on CUDA)."""
    info: dict[str, object] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def hardware_line() -> str:
    """One line: processor, visible cores, torch threads and version."""
    return (
        f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores visible, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    )


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls, each bracketed by a device synchronisation on CUDA."""
    sync: Callable[[], object] = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def make_step(
    net: torch.nn.Module, optimizer: torch.optim.Optimizer, autocast: Callable[[], object]
) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step on ``(noisy, clean)``: forward, MSE, backward, Adam."""

    def step(noisy: torch.Tensor, clean: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():  # type: ignore[attr-defined]
            loss = F.mse_loss(net(noisy).float(), clean.float())
        loss.backward()
        optimizer.step()

    return step


def add_run_arguments(
    parser: argparse.ArgumentParser, *, batch: int, size_help: str, repeats: int, cpu_step_repeats: int
) -> None:
    """The options every transform-vs-DnCNN-step benchmark takes (device, batch, timing, layout, output)."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda (or cuda:N)")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--size", type=int, default=128, help=size_help)
    parser.add_argument("--repeats", type=int, default=repeats, help="timed calls per transform")
    parser.add_argument(
        "--step-repeats",
        type=int,
        default=None,
        help=f"timed DnCNN steps (default: {cpu_step_repeats} on CPU, --repeats on CUDA)",
    )
    parser.add_argument("--channels-last", action="store_true", help="channels_last batch, DnCNN and flows")
    parser.add_argument(
        "--autocast",
        action="store_true",
        help="run everything under torch.autocast (bfloat16); flows opt out internally",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/bench"))


def run_settings(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[torch.device, torch.memory_format, Callable[[], object]]:
    """The device (checked), the memory format and the autocast context factory that ``args`` ask for."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    autocast: Callable[[], object] = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.autocast else nullcontext
    )
    return device, memory_format, autocast


def weights_provenance(name: str) -> dict:
    """Where a released model's weights come from: folder, last commit touching it, uncommitted changes, and the
    first 16 hex digits of the sha256 of ``model.safetensors``."""
    folder = resolve(name)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()[:16]

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    return {
        "folder": str(folder),
        "commit": git("log", "-1", "--format=%h", "--", "."),
        "uncommitted_changes": bool(git("status", "--porcelain", "--", ".")),
        "sha256_16": digest,
    }
