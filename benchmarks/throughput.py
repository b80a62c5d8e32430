"""Throughput: every noiseaug transform against kornia, albumentations and torchvision noise, and a DnCNN step.

On one batch of clean images (default ``(16, 3, 128, 128)``, uniform in [0, 1]) times, in one run:

* noiseaug, batched on ``--device``: ``GaussianNoiseTransform``, ``HeteroscedasticNoiseTransform`` (NLF),
  ``PoissonGaussianNoiseTransform`` with their default ranges; the released pretrained flows listed in
  ``PRETRAINED`` (``NoiseFlowTransform.from_pretrained("noiseflow-simcam")`` on packed raw
  ``(B, 4, H/2, W/2)``, the same number of raw pixels per image; ``NAFlowTransform.from_pretrained("naflow-srgb")``
  on the sRGB batch once it exists: a flow whose module, class or weights are missing is reported as
  skipped); and the adapters (``KorniaNoise`` in ``AugmentationSequential``, ``TorchvisionNoise``, and
  ``AlbumentationsNoise`` per image like the albumentations peers);
* kornia ``RandomGaussianNoise`` (batched, on ``--device``);
* albumentations ``GaussNoise``, ``ISONoise``, ``ShotNoise``: one image at a time in a Python loop over the
  batch, as HWC uint8 numpy arrays (how they run in DataLoader workers), always on the CPU;
* torchvision v2 ``GaussianNoise`` (batched, on ``--device``);
* one DnCNN-17/64 training step on the same sRGB batch: forward, MSE against the clean batch, backward, Adam
  (warmed up on a 2-image slice on the CPU, where a full step takes seconds; on the full batch elsewhere).

Each row reports the median (and minimum) wall-clock time per batch over ``--repeats`` timed calls after
``--warmup`` calls (``torch.cuda.synchronize()`` around each call on CUDA), megapixels per second
(``batch * size * size / 1e6`` per call; for packed raw the mosaic's pixels) and the time as a percentage of
the DnCNN step. Libraries that are not installed, and transforms that fail, are listed as skipped with the
reason. The header states the device, the CPU, torch's thread count (OpenCV is set to the same count) and the
load average before and after: other processes on the machine inflate every number.

    python benchmarks/throughput.py --quick
    python benchmarks/throughput.py --device cpu --out out/bench
    python benchmarks/throughput.py --device cuda --channels-last --autocast --inference-mode --compile
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations asks PyPI for updates on import

import numpy as np  # noqa: E402
import torch  # noqa: E402

from noiseflow_speed import add_run_arguments, hardware, make_step, run_settings, timed, write_report  # noqa: E402
from noiseaug.denoisers import DnCNN  # noqa: E402
from noiseaug.transforms import (  # noqa: E402
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    PoissonGaussianNoiseTransform,
)

#: Released pretrained transforms to include: (module, class, weights name, input layout "srgb" or "raw").
#: A row is skipped, with the reason, when the module, the class or the weights are not there.
PRETRAINED = [
    ("noiseaug.transforms.noise_flow", "NoiseFlowTransform", "noiseflow-simcam", "raw"),
    ("noiseaug.transforms.naflow", "NAFlowTransform", "naflow-srgb", "srgb"),
]
STEP = "DnCNN-17 step (fwd+MSE+bwd+Adam)"


@dataclass
class Case:
    library: str
    name: str
    call: Callable[[], object]
    layout: str  # what one call processes
    device: str


class Skip(Exception):
    """A case that cannot run here (library missing, weights missing, call failed)."""


def optional(module: str):
    """Import an optional library, or raise Skip saying why not."""
    try:
        return importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 - broken installs fail with other errors than ImportError
        raise Skip(f"{module} not importable ({type(error).__name__}: {str(error).splitlines()[0][:240]})") from None


def hwc_uint8(batch: torch.Tensor) -> list[np.ndarray]:
    """The batch as a list of HWC uint8 numpy images (converted once, outside the timing)."""
    return [np.ascontiguousarray(img) for img in (batch * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()]


def per_image(augment: Callable[..., dict], images: list[np.ndarray]) -> Callable[[], object]:
    """One albumentations-style call per image, in a Python loop over the batch."""
    return lambda: [augment(image=image)["image"] for image in images]


def build_cases(args: argparse.Namespace, srgb: torch.Tensor, raw: torch.Tensor, device: torch.device,
                maybe_compile: Callable[[torch.nn.Module], Callable]) -> tuple[list[Case], dict[str, str]]:
    """Every case that can run here, and ``{name: reason}`` for those that cannot."""
    cases: list[Case] = []
    skipped: dict[str, str] = {}
    dev, srgb_shape = str(device), f"{tuple(srgb.shape)}"
    for transform in (GaussianNoiseTransform(), HeteroscedasticNoiseTransform(), PoissonGaussianNoiseTransform()):
        fn = maybe_compile(transform.to(device))
        cases.append(Case("noiseaug", type(transform).__name__, lambda fn=fn: fn(srgb), srgb_shape, dev))
    for module, cls_name, weights, layout in PRETRAINED:
        name = f"{cls_name}.from_pretrained({weights!r})"
        try:
            cls = getattr(optional(module), cls_name, None)
            if cls is None:
                raise Skip(f"{module} has no {cls_name}")
            try:
                transform = cls.from_pretrained(weights).to(device).eval()
            except Exception as error:  # noqa: BLE001 - weights not released yet, or not loadable here
                raise Skip(f"weights {weights!r} not loadable ({type(error).__name__}: {error})") from None
        except Skip as reason:
            skipped[f"noiseaug {name}"] = str(reason)
            continue
        x = raw if layout == "raw" else srgb
        cases.append(Case("noiseaug", name, lambda t=transform, x=x: t(x), f"{tuple(x.shape)}", dev))

    def add(library: str, name: str, make: Callable[[], Case]) -> None:
        try:
            cases.append(make())
        except Skip as reason:
            skipped[f"{library} {name}"] = str(reason)

    images = hwc_uint8(srgb)
    per_image_layout = f"{len(images)} x {images[0].shape} uint8, loop"

    def kornia_adapter() -> Case:
        import kornia.augmentation as K

        from noiseaug.transforms.kornia import KorniaNoise
        pipeline = K.AugmentationSequential(KorniaNoise(GaussianNoiseTransform())).to(device)
        return Case("noiseaug", "KorniaNoise(Gaussian) in AugmentationSequential", lambda: pipeline(srgb),
                    srgb_shape, dev)

    def albumentations_adapter() -> Case:
        adapter = optional("noiseaug.transforms.albumentations")
        augment = adapter.AlbumentationsNoise(GaussianNoiseTransform())
        return Case("noiseaug", "AlbumentationsNoise(Gaussian) per image", per_image(augment, images),
                    per_image_layout, "cpu")

    def torchvision_adapter() -> Case:
        adapter = optional("noiseaug.transforms.torchvision")
        augment = adapter.TorchvisionNoise(GaussianNoiseTransform()).to(device)
        return Case("noiseaug", "TorchvisionNoise(Gaussian)", lambda: augment(srgb), srgb_shape, dev)

    def kornia_peer() -> Case:
        import kornia.augmentation as K
        augment = K.RandomGaussianNoise(std=0.1, p=1.0).to(device)
        return Case("kornia", "RandomGaussianNoise(std=0.1)", lambda: augment(srgb), srgb_shape, dev)

    def albumentations_peer(cls_name: str) -> Callable[[], Case]:
        def make() -> Case:
            augment = getattr(optional("albumentations"), cls_name)(p=1.0)
            return Case("albumentations", f"{cls_name} (defaults) per image", per_image(augment, images),
                        per_image_layout, "cpu")
        return make

    def torchvision_peer() -> Case:
        augment = optional("torchvision.transforms.v2").GaussianNoise(sigma=0.1)
        return Case("torchvision", "v2.GaussianNoise(sigma=0.1)", lambda: augment(srgb), srgb_shape, dev)

    add("noiseaug", "KorniaNoise", kornia_adapter)
    add("noiseaug", "AlbumentationsNoise", albumentations_adapter)
    add("noiseaug", "TorchvisionNoise", torchvision_adapter)
    add("kornia", "RandomGaussianNoise", kornia_peer)
    for cls_name in ("GaussNoise", "ISONoise", "ShotNoise"):
        add("albumentations", cls_name, albumentations_peer(cls_name))
    add("torchvision", "v2.GaussianNoise", torchvision_peer)
    return cases, skipped


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, batch=16, size_help="image height and width (even)", repeats=10, cpu_step_repeats=2)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--inference-mode", action="store_true", help="transforms under torch.inference_mode()")
    parser.add_argument("--compile", action="store_true", help="torch.compile the noiseaug parametric transforms "
                                                               "and the DnCNN")
    parser.add_argument("--quick", action="store_true",
                        help="batch 4, size 64, 3 repeats, 1 warm-up, 1 DnCNN step (overrides those options)")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.repeats, args.warmup, args.step_repeats = 4, 64, 3, 1, 1
    if min(args.batch, args.size, args.repeats, args.step_repeats or 1) < 1 or args.warmup < 0 or args.size % 2:
        parser.error("--batch, --size, --repeats and --step-repeats must be positive (--size even), --warmup >= 0")
    device, memory_format, autocast = run_settings(parser, args)
    step_repeats = args.step_repeats or (2 if device.type == "cpu" else args.repeats)
    inference = torch.inference_mode if args.inference_mode else nullcontext
    maybe_compile = torch.compile if args.compile else (lambda module: module)
    try:
        import cv2  # albumentations' backend: give it the same number of threads as torch
        cv2.setNumThreads(torch.get_num_threads())
    except ImportError:
        pass
    load_before = os.getloadavg()

    gen = torch.Generator(device=device).manual_seed(args.seed)
    srgb = torch.rand(args.batch, 3, args.size, args.size, generator=gen, device=device)
    raw = torch.rand(args.batch, 4, args.size // 2, args.size // 2, generator=gen, device=device)
    srgb, raw = srgb.contiguous(memory_format=memory_format), raw.contiguous(memory_format=memory_format)
    cases, skipped = build_cases(args, srgb, raw, device, maybe_compile)

    results: dict[tuple[str, str], list[float]] = {}
    for case in cases:
        try:
            with inference(), autocast():
                for _ in range(args.warmup):
                    case.call()
                results[(case.library, case.name)] = timed(case.call, args.repeats, device)
        except Exception as error:  # noqa: BLE001 - one failing case must not stop the table
            skipped[f"{case.library} {case.name}"] = f"call failed ({type(error).__name__}: {error})"

    net = DnCNN(channels=3, depth=17, width=64).to(device).to(memory_format=memory_format).train()
    step = make_step(maybe_compile(net), torch.optim.Adam(net.parameters(), lr=1e-4), autocast)
    with torch.no_grad():
        noisy = GaussianNoiseTransform()(srgb, generator=gen)
    warm = 2 if device.type == "cpu" and not args.compile else args.batch  # a CPU step on the full batch is slow
    for _ in range(max(args.warmup, 1)):
        step(noisy[:warm], srgb[:warm])
    step_times = timed(lambda: step(noisy, srgb), step_repeats, device)
    load_after = os.getloadavg()

    pixels = args.batch * args.size * args.size
    step_median = statistics.median(step_times)
    rows = [row(case.library, case.name, case.layout, case.device, results[(case.library, case.name)], pixels,
                step_median) for case in cases if (case.library, case.name) in results]
    rows.append(row("noiseaug", STEP, f"{tuple(srgb.shape)}", str(device), step_times, pixels, step_median))
    report = {
        "command": " ".join(["python", *sys.argv] if argv is None else ["python", "benchmarks/throughput.py", *argv]),
        "hardware": {**hardware(device), "opencv_threads": _cv2_threads()},
        "load_average_1_5_15": {"before": load_before, "after": load_after},
        "batch": [args.batch, 3, args.size, args.size], "raw_batch": list(raw.shape), "dtype": "float32",
        "megapixels_per_call": pixels / 1e6, "repeats": args.repeats, "warmup": args.warmup,
        "step_repeats": step_repeats, "channels_last": args.channels_last,
        "autocast": "bfloat16" if args.autocast else None, "inference_mode": args.inference_mode,
        "compile": args.compile, "versions": _versions(), "results": rows, "skipped": skipped,
    }
    write_report(args.out, "throughput", report, markdown(report))
    return report


def row(library: str, name: str, layout: str, device: str, times: list[float], pixels: int,
        step_median: float) -> dict[str, object]:
    median = statistics.median(times)
    return {"library": library, "name": name, "input": layout, "device": device, "median_ms": 1e3 * median,
            "min_ms": 1e3 * min(times), "megapixels_per_s": pixels / 1e6 / median, "repeats": len(times),
            "percent_of_step": 100 * median / step_median, "times_ms": [1e3 * t for t in times]}


def _cv2_threads() -> int | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2.getNumThreads()


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("noiseaug", "kornia", "albumentations", "torchvision", "numpy"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001
            versions[name] = None
    return versions


def markdown(report: dict) -> str:
    hw = report["hardware"]
    where = hw.get("gpu", hw["cpu"])
    load = report["load_average_1_5_15"]
    lines = [
        f"Batch {tuple(report['batch'])} sRGB / {tuple(report['raw_batch'])} packed raw, float32, on {hw['device']} "
        f"({where}); torch {hw['torch']}, {hw['torch_threads']} torch threads, OpenCV threads "
        f"{hw['opencv_threads']}, {hw['cpu_count']} CPUs; channels_last={report['channels_last']}, "
        f"autocast={report['autocast']}, inference_mode={report['inference_mode']}, compile={report['compile']}; "
        f"median of {report['repeats']} calls after {report['warmup']} warm-up (DnCNN step: "
        f"{report['step_repeats']}); load average before/after {load['before'][0]:.2f}/{load['after'][0]:.2f}.",
        "",
        "| library | transform | input per call | device | median ms / batch | min ms | MP/s | % of DnCNN step |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(f"| {r['library']} | {r['name']} | {r['input']} | {r['device']} | {r['median_ms']:.2f} | "
                     f"{r['min_ms']:.2f} | {r['megapixels_per_s']:.3g} | {r['percent_of_step']:.2f} |")
    if report["skipped"]:
        lines += ["", "Skipped:"] + [f"- {name}: {reason}" for name, reason in report["skipped"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
