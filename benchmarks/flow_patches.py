"""Flow sampling throughput in patches per second: NAFlow on sRGB patches, Noise Flow on packed raw patches.

Each released flow transform (``validate="async"``: no host sync per call) samples a fixed batch repeatedly,
eager and, on CUDA, replayed from a captured CUDA graph (static shapes, the generator registered with the
graph). Reports the median seconds per batch over ``--repeats`` calls and patches per second.

    python benchmarks/flow_patches.py --device cuda
    python benchmarks/flow_patches.py --device cpu --naflow-batch 2 --noiseflow-batch 8 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from noiseaug import NAFlowTransform, NoiseFlowTransform
from noiseaug.eval import write_report
from noiseaug.eval.timing import hardware, timed
from noiseaug.transforms.pipeline import capture_cuda_graph


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--naflow-batch", type=int, default=32, help="256x256 sRGB patches per call")
    parser.add_argument("--noiseflow-batch", type=int, default=256, help="packed 64x64 raw patches per call")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    gen = torch.Generator(device=device).manual_seed(0)
    cases = [
        (
            "NAFlowTransform('naflow-srgb')",
            NAFlowTransform.from_pretrained("naflow-srgb", validate="async"),
            (args.naflow_batch, 3, 256, 256),
        ),
        (
            "NoiseFlowTransform('noiseflow-simcam')",
            NoiseFlowTransform.from_pretrained("noiseflow-simcam", validate="async"),
            (args.noiseflow_batch, 4, 64, 64),
        ),
    ]
    rows = []
    for name, transform, shape in cases:
        transform = transform.to(device).eval()
        x = torch.rand(shape, generator=gen, device=device)
        calls = {"eager": lambda t=transform, x=x: t(x, generator=gen)}
        if device.type == "cuda":
            calls["cuda graph"] = capture_cuda_graph(transform, x, gen)[0]
        for mode, call in calls.items():
            with torch.no_grad():
                call()
                times = timed(call, args.repeats, device)
            median = statistics.median(times)
            rows.append(
                {
                    "flow": name,
                    "mode": mode,
                    "batch": list(shape),
                    "median_ms": 1e3 * median,
                    "patches_per_s": shape[0] / median,
                }
            )
    report = {
        "command": " ".join(["python", *sys.argv] if argv is None else ["python", "benchmarks/flow_patches.py", *argv]),
        "hardware": hardware(device),
        "repeats": args.repeats,
        "results": rows,
    }
    lines = [
        f"Flow sampling on {device} ({report['hardware'].get('gpu', report['hardware']['cpu'])}), median of "
        f"{args.repeats} calls.",
        "",
        "| flow | mode | batch | median ms | patches / s |",
        "|---|---|---|---:|---:|",
    ]
    lines += [
        f"| {r['flow']} | {r['mode']} | {tuple(r['batch'])} | {r['median_ms']:.2f} | {r['patches_per_s']:.4g} |"
        for r in rows
    ]
    write_report(args.out, "flow_patches", report, "\n".join(lines))
    return report


if __name__ == "__main__":
    main()
