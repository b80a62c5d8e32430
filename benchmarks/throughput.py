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
* torchvision v2 ``GaussianNoise`` (batched, on ``--device``), where torchvision imports;
* deepinv ``physics.GaussianNoise`` / ``physics.PoissonGaussianNoise`` (batched, on ``--device``; optional:
  ``pip install deepinv`` with a torchvision built for the installed torch);
* the floor for any torch implementation: ``x + sigma * torch.randn_like(x)``;
* what the costliest rows cost at least, on the same images: the exact Poisson draw alone
  (``torch.poisson`` and numpy's ``Generator.poisson`` of ``x / gain``, with the gains the Poisson-Gaussian
  transform draws) and the noise field alone of one image at a time (``torch.randn``, what the albumentations
  adapter draws; ``cv2.randn``, what albumentations' ``GaussNoise`` draws);
* one DnCNN-17/64 training step on the same sRGB batch: forward, MSE against the clean batch, backward, Adam
  (warmed up on a 2-image slice on the CPU, where a full step takes seconds; on the full batch elsewhere).

Each row reports the median (and minimum) wall-clock time per batch over ``--repeats`` timed calls after
``--warmup`` calls (``torch.cuda.synchronize()`` around each call on CUDA). The timed calls are interleaved:
round ``r`` times one call of every case, so load from other processes falls on all rows alike; the ratio
table divides medians of the same run (noiseaug against the floor and its peers). Megapixels per second
(``batch * size * size / 1e6`` per call; for packed raw the mosaic's pixels) and the time as a percentage of
the DnCNN step. Libraries that are not installed, and transforms that fail, are listed as skipped with the
reason. The header states the device, the CPU, torch's thread count (OpenCV is set to the same count) and the
load average before and after: other processes on the machine inflate every number.

``--scaling`` adds, for each noiseaug transform, the time against the image side (``--scaling-sides``, at
``--scaling-batch`` images; sides above the flows' ``max_pixels`` are decoded in tiles) and against the batch
size (``--scaling-batches``, at side ``--size``), interleaved the same way; a figure ``throughput_scaling.png``
is written with matplotlib (the ``bench`` extra).

    python benchmarks/throughput.py --quick
    python benchmarks/throughput.py --batch 16 --size 128 --repeats 7 --scaling
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

from noiseaug.denoisers import DnCNN  # noqa: E402
from noiseaug.eval import pyplot, save_figure, write_report  # noqa: E402
from noiseaug.eval.timing import add_run_arguments, hardware, make_step, run_settings, timed  # noqa: E402
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
FLOOR = "x + sigma * randn_like(x) (floor)"
POISSON_TORCH = "torch.poisson(x / gain) (exact draw alone)"
POISSON_NUMPY = "Generator.poisson(x / gain) (exact draw alone)"
RANDN_PER_IMAGE = "torch.randn per image (noise field alone)"
CV2_RANDN_PER_IMAGE = "cv2.randn per image (GaussNoise's noise field alone)"
#: (numerator, denominator) rows of the ratio table: noiseaug against the floor and its peers.
RATIOS = [
    ("GaussianNoiseTransform", FLOOR),
    ("GaussianNoiseTransform", "RandomGaussianNoise(std=0.1)"),
    ("GaussianNoiseTransform", "v2.GaussianNoise(sigma=0.1)"),
    ("GaussianNoiseTransform", "physics.GaussianNoise(sigma=0.1)"),
    ("PoissonGaussianNoiseTransform", "GaussianNoiseTransform"),
    ("PoissonGaussianNoiseTransform", "physics.PoissonGaussianNoise(gain=0.01, sigma=0.01)"),
    ("PoissonGaussianNoiseTransform", POISSON_TORCH),
    (POISSON_TORCH, "GaussianNoiseTransform"),
    (POISSON_NUMPY, "GaussianNoiseTransform"),
    ("KorniaNoise(Gaussian) in AugmentationSequential", "RandomGaussianNoise(std=0.1)"),
    ("TorchvisionNoise(Gaussian)", "v2.GaussianNoise(sigma=0.1)"),
    ("AlbumentationsNoise(Gaussian) per image", "GaussNoise (defaults) per image"),
    (RANDN_PER_IMAGE, "GaussNoise (defaults) per image"),
    (RANDN_PER_IMAGE, CV2_RANDN_PER_IMAGE),
]


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


def build_cases(
    args: argparse.Namespace,
    srgb: torch.Tensor,
    raw: torch.Tensor,
    device: torch.device,
    memory_format: torch.memory_format,
    maybe_compile: Callable[[torch.nn.Module], Callable],
) -> tuple[list[Case], dict[str, str]]:
    """Every case that can run here, and ``{name: reason}`` for those that cannot; ``memory_format`` is the
    flows' weights' (the batches come in it already)."""
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
                transform = cls.from_pretrained(weights).to(device, memory_format=memory_format).eval()
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
        return Case(
            "noiseaug", "KorniaNoise(Gaussian) in AugmentationSequential", lambda: pipeline(srgb), srgb_shape, dev
        )

    def albumentations_adapter() -> Case:
        adapter = optional("noiseaug.transforms.albumentations")
        augment = adapter.AlbumentationsNoise(GaussianNoiseTransform())
        return Case(
            "noiseaug", "AlbumentationsNoise(Gaussian) per image", per_image(augment, images), per_image_layout, "cpu"
        )

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
            return Case(
                "albumentations",
                f"{cls_name} (defaults) per image",
                per_image(augment, images),
                per_image_layout,
                "cpu",
            )

        return make

    def torchvision_peer() -> Case:
        augment = optional("torchvision.transforms.v2").GaussianNoise(sigma=0.1)
        return Case("torchvision", "v2.GaussianNoise(sigma=0.1)", lambda: augment(srgb), srgb_shape, dev)

    def floor() -> Case:
        sigma = 0.1
        return Case("torch", FLOOR, lambda: srgb + sigma * torch.randn_like(srgb), srgb_shape, dev)

    def deepinv_peer(cls_name: str, kwargs: dict[str, float]) -> Callable[[], Case]:
        def make() -> Case:
            noise = getattr(optional("deepinv").physics, cls_name)(**kwargs).to(device)
            described = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            return Case("deepinv", f"physics.{cls_name}({described})", lambda: noise(srgb), srgb_shape, dev)

        return make

    # x / gain with the per-image gains the Poisson-Gaussian transform draws (its own range)
    gains = PoissonGaussianNoiseTransform().draw_params(
        len(srgb), torch.Generator(device=device).manual_seed(args.seed), device
    )
    rate = srgb.clamp(min=0) / gains["gain"].view(-1, 1, 1, 1)

    def poisson_torch() -> Case:
        generator = torch.Generator(device=device).manual_seed(args.seed)
        return Case("torch", POISSON_TORCH, lambda: torch.poisson(rate, generator), srgb_shape, dev)

    def poisson_numpy() -> Case:
        rate_np, generator = rate.cpu().numpy(), np.random.default_rng(args.seed)
        return Case("numpy", POISSON_NUMPY, lambda: generator.poisson(rate_np), srgb_shape, "cpu")

    def randn_per_image() -> Case:
        shape, generator = images[0].shape, torch.Generator().manual_seed(args.seed)
        call = lambda: [torch.randn(shape, generator=generator) for _ in images]  # noqa: E731
        return Case("torch", RANDN_PER_IMAGE, call, per_image_layout, "cpu")

    def cv2_randn_per_image() -> Case:
        cv2 = optional("cv2")
        shape = images[0].shape
        call = lambda: [cv2.randn(np.empty(shape, np.float32), 0.0, 1.0) for _ in images]  # noqa: E731
        return Case("opencv", CV2_RANDN_PER_IMAGE, call, per_image_layout, "cpu")

    add("torch", FLOOR, floor)
    add("torch", POISSON_TORCH, poisson_torch)
    add("numpy", POISSON_NUMPY, poisson_numpy)
    add("torch", RANDN_PER_IMAGE, randn_per_image)
    add("opencv", CV2_RANDN_PER_IMAGE, cv2_randn_per_image)
    add("noiseaug", "KorniaNoise", kornia_adapter)
    add("noiseaug", "AlbumentationsNoise", albumentations_adapter)
    add("noiseaug", "TorchvisionNoise", torchvision_adapter)
    add("kornia", "RandomGaussianNoise", kornia_peer)
    for cls_name in ("GaussNoise", "ISONoise", "ShotNoise"):
        add("albumentations", cls_name, albumentations_peer(cls_name))
    add("torchvision", "v2.GaussianNoise", torchvision_peer)
    add("deepinv", "physics.GaussianNoise", deepinv_peer("GaussianNoise", {"sigma": 0.1}))
    add("deepinv", "physics.PoissonGaussianNoise", deepinv_peer("PoissonGaussianNoise", {"gain": 0.01, "sigma": 0.01}))
    return cases, skipped


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, batch=16, size_help="image height and width (even)", repeats=10, cpu_step_repeats=2)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--inference-mode", action="store_true", help="transforms under torch.inference_mode()")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the noiseaug parametric transforms and the DnCNN"
    )
    parser.add_argument("--scaling", action="store_true", help="time against image side and batch size too")
    parser.add_argument("--scaling-sides", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--scaling-batches", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--scaling-batch", type=int, default=1, help="images per call in the side sweep")
    parser.add_argument("--scaling-repeats", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="batch 4, size 64, 3 repeats, 1 warm-up, 1 DnCNN step (overrides those options)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.repeats, args.warmup, args.step_repeats = 4, 64, 3, 1, 1
        args.scaling_sides, args.scaling_batches, args.scaling_repeats = [64, 128], [1, 2], 1
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
    cases, skipped = build_cases(args, srgb, raw, device, memory_format, maybe_compile)

    with inference(), autocast():
        results = interleaved(cases, args.warmup, args.repeats, device, skipped)

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
    rows = [
        row(case.library, case.name, case.layout, case.device, results[(case.library, case.name)], pixels, step_median)
        for case in cases
        if (case.library, case.name) in results
    ]
    rows.append(row("noiseaug", STEP, f"{tuple(srgb.shape)}", str(device), step_times, pixels, step_median))
    scaling = None
    if args.scaling:
        with inference(), autocast():
            scaling = scaling_sweep(args, device, memory_format, maybe_compile)
        plot_scaling(scaling, args.out / "throughput_scaling.png")
    report = {
        "command": " ".join(["python", *sys.argv] if argv is None else ["python", "benchmarks/throughput.py", *argv]),
        "hardware": {**hardware(device), "opencv_threads": _cv2_threads()},
        "load_average_1_5_15": {"before": load_before, "after": load_after},
        "batch": [args.batch, 3, args.size, args.size],
        "raw_batch": list(raw.shape),
        "dtype": "float32",
        "megapixels_per_call": pixels / 1e6,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "step_repeats": step_repeats,
        "channels_last": args.channels_last,
        "autocast": "bfloat16" if args.autocast else None,
        "inference_mode": args.inference_mode,
        "compile": args.compile,
        "versions": _versions(),
        "results": rows,
        "ratios": ratios(rows),
        "skipped": skipped,
        "scaling": scaling,
    }
    write_report(args.out, "throughput", report, markdown(report))
    return report


def interleaved(
    cases: list[Case], warmup: int, repeats: int, device: torch.device, skipped: dict[str, str]
) -> dict[tuple[str, str], list[float]]:
    """Seconds per call of every case, ``repeats`` rounds of one call each (after ``warmup`` untimed calls).

    A case that fails is moved to ``skipped`` with the reason; the others go on.
    """
    live, results = list(cases), {}
    for stage, count in (("warm-up", warmup), ("timed", repeats)):
        for _ in range(count):
            for case in list(live):
                try:
                    seconds = timed(case.call, 1, device)[0]
                except Exception as error:  # noqa: BLE001 - one failing case must not stop the table
                    skipped[f"{case.library} {case.name}"] = f"call failed ({type(error).__name__}: {error})"
                    live.remove(case)
                    continue
                if stage == "timed":
                    results.setdefault((case.library, case.name), []).append(seconds)
    return {key: times for key, times in results.items() if any(c.library == key[0] and c.name == key[1] for c in live)}


def ratios(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """:data:`RATIOS` whose both rows ran: median time of the first over the second (below 1: faster)."""
    median = {r["name"]: r["median_ms"] for r in rows}
    return [
        {"numerator": a, "denominator": b, "ratio": median[a] / median[b]}
        for a, b in RATIOS
        if a in median and b in median
    ]


def scaling_transforms() -> list[tuple[str, Callable[[], torch.nn.Module], str]]:
    """(name, constructor, layout) of every transform in the scaling sweep; flows only where their weights load."""
    made: list[tuple[str, Callable[[], torch.nn.Module], str]] = [
        (cls.__name__, cls, "srgb")
        for cls in (GaussianNoiseTransform, HeteroscedasticNoiseTransform, PoissonGaussianNoiseTransform)
    ]
    for module, cls_name, weights, layout in PRETRAINED:
        try:
            cls = getattr(importlib.import_module(module), cls_name)
            cls.from_pretrained(weights)
        except Exception:  # noqa: BLE001 - reported as skipped in the main table
            continue
        made.append((cls_name, lambda cls=cls, weights=weights: cls.from_pretrained(weights), layout))
    made.append((FLOOR, lambda: None, "srgb"))
    return made


def scaling_sweep(
    args: argparse.Namespace,
    device: torch.device,
    memory_format: torch.memory_format,
    maybe_compile: Callable[[torch.nn.Module], Callable],
) -> dict[str, object]:
    """Median ms per call of every transform at each (batch, side) point: sides at ``--scaling-batch`` images,
    batches at side ``--size``; calls interleaved over transforms within each point."""
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    models = [(name, make(), layout) for name, make, layout in scaling_transforms()]
    points = [("side", args.scaling_batch, side) for side in args.scaling_sides]
    points += [("batch", batch, args.size) for batch in args.scaling_batches]
    table: list[dict[str, object]] = []
    for sweep, batch, side in points:
        srgb = torch.rand(batch, 3, side, side, generator=gen, device=device).contiguous(memory_format=memory_format)
        raw = torch.rand(batch, 4, side // 2, side // 2, generator=gen, device=device)
        cases = []
        for name, model, layout in models:
            x = raw if layout == "raw" else srgb
            if model is None:
                call = lambda x=x: x + 0.1 * torch.randn_like(x)  # noqa: E731
            else:
                fn = maybe_compile(model.to(device, memory_format=memory_format))
                call = lambda fn=fn, x=x: fn(x)  # noqa: E731
            cases.append(Case("noiseaug" if model is not None else "torch", name, call, layout, str(device)))
        skipped: dict[str, str] = {}
        results = interleaved(cases, 1, args.scaling_repeats, device, skipped)
        for case in cases:
            times = results.get((case.library, case.name))
            table.append(
                {
                    "sweep": sweep,
                    "transform": case.name,
                    "batch": batch,
                    "side": side,
                    "median_ms": None if times is None else 1e3 * statistics.median(times),
                    "megapixels": batch * side * side / 1e6,
                    "skipped": skipped.get(f"{case.library} {case.name}"),
                }
            )
    return {"repeats": args.scaling_repeats, "side_batch": args.scaling_batch, "batch_side": args.size, "points": table}


def plot_scaling(scaling: dict[str, object], path) -> None:
    """Two panels (time against side, against batch), log-log, one line per transform; skipped without matplotlib."""
    try:
        plt = pyplot()
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, sweep, key, label in (
        (axes[0], "side", "side", f"image side (batch {scaling['side_batch']})"),
        (axes[1], "batch", "batch", f"batch size (side {scaling['batch_side']})"),
    ):
        points = [p for p in scaling["points"] if p["sweep"] == sweep and p["median_ms"] is not None]
        for name in dict.fromkeys(p["transform"] for p in points):
            line = [p for p in points if p["transform"] == name]
            ax.plot([p[key] for p in line], [p["median_ms"] for p in line], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("median ms per call")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def row(
    library: str, name: str, layout: str, device: str, times: list[float], pixels: int, step_median: float
) -> dict[str, object]:
    median = statistics.median(times)
    return {
        "library": library,
        "name": name,
        "input": layout,
        "device": device,
        "median_ms": 1e3 * median,
        "min_ms": 1e3 * min(times),
        "megapixels_per_s": pixels / 1e6 / median,
        "repeats": len(times),
        "percent_of_step": 100 * median / step_median,
        "times_ms": [1e3 * t for t in times],
    }


def _cv2_threads() -> int | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2.getNumThreads()


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("noiseaug", "kornia", "albumentations", "torchvision", "deepinv", "numpy"):
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
        lines.append(
            f"| {r['library']} | {r['name']} | {r['input']} | {r['device']} | {r['median_ms']:.2f} | "
            f"{r['min_ms']:.2f} | {r['megapixels_per_s']:.3g} | {r['percent_of_step']:.2f} |"
        )
    if report["ratios"]:
        lines += ["", "| ratio of medians (same run) | value |", "|---|---:|"]
        lines += [f"| {r['numerator']} / {r['denominator']} | {r['ratio']:.2f} |" for r in report["ratios"]]
    if report["skipped"]:
        lines += ["", "Skipped:"] + [f"- {name}: {reason}" for name, reason in report["skipped"].items()]
    if report["scaling"]:
        points = report["scaling"]["points"]
        names = list(dict.fromkeys(p["transform"] for p in points))
        lines += [
            "",
            f"Scaling: median ms per call over {report['scaling']['repeats']} interleaved calls "
            "(raw flows: packed at half the side).",
            "",
            "| sweep | batch x side | " + " | ".join(names) + " |",
            "|---|---|" + "---:|" * len(names),
        ]
        for sweep, batch, side in dict.fromkeys((p["sweep"], p["batch"], p["side"]) for p in points):
            cells = [
                next(
                    p
                    for p in points
                    if p["transform"] == n and p["sweep"] == sweep and p["batch"] == batch and p["side"] == side
                )["median_ms"]
                for n in names
            ]
            lines.append(
                f"| {sweep} | {batch} x {side} | "
                + " | ".join("skipped" if c is None else f"{c:.3g}" for c in cells)
                + " |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
