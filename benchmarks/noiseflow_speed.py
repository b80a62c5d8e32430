"""Speed: NoiseFlowTransform (and the parametric transforms) against one DnCNN-17 training step.

On one packed-raw batch ``(batch, 4, size, size)`` (clean uniform in [0, 1]; each sample draws its
ISO and camera inside the transform), times

* ``NoiseFlowTransform`` (Noise Flow S-Ax4-G-Ax4, default architecture; cost does not depend on
  training, so by default an untrained model with 5 cameras and ISOs 100..3200 is used);
* ``GaussianNoiseTransform``, ``HeteroscedasticNoiseTransform``, ``PoissonGaussianNoiseTransform``
  with their default ranges;
* one DnCNN-17/64 training step on the same batch as 4-channel input: forward, MSE loss against
  the clean batch, backward, Adam step.

Reports medians (and minima) of wall-clock times after warm-up, with ``torch.cuda.synchronize()``
around every timed call on CUDA, and each transform's time as a percentage of the step (goal for
Noise Flow: under 5 %). Prints a markdown table with the hardware and writes
``<out>/noiseflow_speed.json`` and ``<out>/noiseflow_speed.md``.

On CPU the DnCNN step on the default batch takes tens of seconds, so by default it is timed once
(``--step-repeats``) after a warm-up step on a 2-image slice of the batch (``--warmup-batch``): the
warm-up pays the one-time costs (thread pool, allocator, kernel selection); the timed step uses
the full batch. The load average before and after is recorded: other processes on the machine
inflate every number.

    python benchmarks/noiseflow_speed.py --device cpu --out out/bench
    python benchmarks/noiseflow_speed.py --device cuda --repeats 20 --channels-last --autocast --out out/bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

from noiseaug.denoisers import DnCNN
from noiseaug.eval import write_report
from noiseaug.eval.timing import add_run_arguments, hardware, make_step, run_settings, timed
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NoiseFlowTransform,
    PoissonGaussianNoiseTransform,
)

DEFAULT_CAMERAS = ["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"]
DEFAULT_ISOS = [100, 400, 800, 1600, 3200]
GOAL = 0.05


def default_flow() -> NoiseFlow:
    """An untrained Noise Flow of the default architecture, ActNorm marked initialised, in eval mode."""
    flow = NoiseFlow(DEFAULT_CAMERAS, DEFAULT_ISOS)
    for module in flow.modules():
        if hasattr(module, "initialized"):
            module.initialized.fill_(True)
    return flow.eval()


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, batch=64, size_help="packed height and width", repeats=5, cpu_step_repeats=1)
    parser.add_argument(
        "--warmup-batch",
        type=int,
        default=None,
        help="images in the DnCNN warm-up step (default: 2 on CPU, --batch on CUDA)",
    )
    parser.add_argument("--weights", default=None, help="NoiseFlow folder or released name (default: untrained)")
    args = parser.parse_args(argv)
    if min(args.batch, args.size, args.repeats, args.step_repeats or 1, args.warmup_batch or 1) < 1:
        parser.error("--batch, --size, --repeats, --step-repeats and --warmup-batch must be positive")

    device, memory_format, autocast = run_settings(parser, args)
    on_cpu = device.type == "cpu"
    step_repeats = args.step_repeats or (1 if on_cpu else args.repeats)
    warmup_batch = min(args.batch, args.warmup_batch or (2 if on_cpu else args.batch))
    load_before = os.getloadavg()

    gen = torch.Generator(device=device).manual_seed(args.seed)
    clean = torch.rand(args.batch, 4, args.size, args.size, generator=gen, device=device)
    clean = clean.contiguous(memory_format=memory_format)
    flow = NoiseFlow.from_pretrained(args.weights) if args.weights else default_flow()
    transforms = {
        "NoiseFlowTransform": NoiseFlowTransform(flow),
        "GaussianNoiseTransform": GaussianNoiseTransform(),
        "HeteroscedasticNoiseTransform": HeteroscedasticNoiseTransform(),
        "PoissonGaussianNoiseTransform": PoissonGaussianNoiseTransform(),
    }
    results: dict[str, list[float]] = {}
    for name, transform in transforms.items():
        transform.to(device, memory_format=memory_format)
        with autocast():
            call = lambda t=transform: t(clean, generator=gen)  # noqa: E731
            call()  # warm-up
            results[name] = timed(call, args.repeats, device)

    net = DnCNN(channels=4, depth=17, width=64).to(device).to(memory_format=memory_format).train()
    step = make_step(net, torch.optim.Adam(net.parameters(), lr=1e-4), autocast)
    noisy = transforms["NoiseFlowTransform"](clean, generator=gen)
    step(noisy[:warmup_batch], clean[:warmup_batch])  # warm-up
    results["DnCNN-17 step (fwd+MSE+bwd+Adam)"] = timed(lambda: step(noisy, clean), step_repeats, device)
    load_after = os.getloadavg()

    step_median = statistics.median(results["DnCNN-17 step (fwd+MSE+bwd+Adam)"])
    rows = [
        {
            "name": name,
            "median_ms": 1e3 * statistics.median(t),
            "min_ms": 1e3 * min(t),
            "repeats": len(t),
            "percent_of_step": 100 * statistics.median(t) / step_median,
            "times_ms": [1e3 * s for s in t],
        }
        for name, t in results.items()
    ]
    ratio = statistics.median(results["NoiseFlowTransform"]) / step_median
    report = {
        "command": " ".join(
            ["python", *sys.argv] if argv is None else ["python", "benchmarks/noiseflow_speed.py", *argv]
        ),
        "hardware": hardware(device),
        "load_average_1_5_15": {"before": load_before, "after": load_after},
        "batch": [args.batch, 4, args.size, args.size],
        "dtype": "float32",
        "channels_last": args.channels_last,
        "autocast": "bfloat16" if args.autocast else None,
        "noise_flow": {
            "weights": args.weights or "untrained default",
            "parameters": sum(p.numel() for p in flow.parameters()),
            **flow.config,
        },
        "dncnn_parameters": sum(p.numel() for p in net.parameters()),
        "warmup": {"transforms": 1, "dncnn_step_batch": warmup_batch},
        "results": rows,
        "noiseflow_over_step": ratio,
        "goal": GOAL,
        "meets_goal": ratio < GOAL,
    }
    write_report(args.out, "noiseflow_speed", report, markdown(report))
    return report


def markdown(report: dict) -> str:
    hw = report["hardware"]
    where = hw.get("gpu", hw["cpu"])
    lines = [
        f"Batch {tuple(report['batch'])} float32 packed raw on {hw['device']} ({where}); torch {hw['torch']}, "
        f"{hw['torch_threads']} threads, {hw['cpu_count']} CPUs ({hw['cpu']}); "
        f"channels_last={report['channels_last']}, autocast={report['autocast']}; "
        f"load average before/after {report['load_average_1_5_15']['before'][0]:.2f}/"
        f"{report['load_average_1_5_15']['after'][0]:.2f}.",
        "",
        "| operation | median (ms) | min (ms) | repeats | % of DnCNN step |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['name']} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | {row['repeats']} | "
            f"{row['percent_of_step']:.2f} |"
        )
    lines += [
        "",
        f"NoiseFlowTransform / DnCNN step = {100 * report['noiseflow_over_step']:.2f} % "
        f"(goal < {100 * report['goal']:.0f} %: {'met' if report['meets_goal'] else 'NOT met'}).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
