"""Replicate DnCNN runs picked by their own validation: per group of runs (labels ``GROUP#SEED``), the run whose
recipe checkpoint has the lowest validation MSE (``history.json``'s best ``val_mse``), then every run's test scores
from ``benchmarks/denoising.py``'s ``denoising.json`` (same labels), a table and a figure.

The pick looks at the runs' validation crops only, never at the test sets, so a release rule built on it can be
fixed before the runs and applied to every source alike. The summary JSON keeps each run's validation history, so
the table and the figure can be redrawn without the run folders (``--from-summary``).

    python benchmarks/phone_replicates.py --run real#0=runs/real-s0 --run flow#0=runs/flow-s0 ... \\
        --scores out/score/denoising.json --reference "dncnn-real-phone before=real-phone" --out out/replicates
    python benchmarks/phone_replicates.py --from-summary docs/runs/phone_gpu_replicates.json --out out/replicates
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from noiseaug.eval import markdown_table, pyplot, save_figure, write_outputs

#: the two test sets of benchmarks/denoising.py, in its order
SETS = ("held-out PolyU + CC15", "sidd-dev (unseen family)")


def parse_label(label: str) -> tuple[str, int]:
    group, _, seed = label.partition("#")
    if not group or not seed.isdigit():
        raise SystemExit(f"run labels are GROUP#SEED, got {label!r}")
    return group, int(seed)


def summarise(runs: dict[str, Path], scores: dict, references: dict[str, str]) -> dict:
    """``{"runs": [...], "references": {...}}``: each run's validation history and test PSNRs."""
    out = []
    for label, folder in runs.items():
        group, seed = parse_label(label)
        history = [r for r in json.loads((folder / "history.json").read_text()) if "val_mse" in r]
        best = min(history, key=lambda r: r["val_mse"])
        out.append(
            {
                "label": label,
                "group": group,
                "seed": seed,
                "options": json.loads((folder / "run.json").read_text())["options"],
                "history": [{k: r[k] for k in ("step", "val_mse", "val_psnr", "elapsed_s")} for r in history],
                "best_step": best["step"],
                "best_val_mse": best["val_mse"],
                "test_psnr": {s: scores[s][label]["psnr"] for s in SETS},
            }
        )
    refs = {name: {s: scores[s][label]["psnr"] for s in SETS} for name, label in references.items()}
    return {"runs": out, "references": refs}


def groups(summary: dict) -> dict[str, list[dict]]:
    """``{group: its runs}``, groups sorted by name, runs in the summary's order."""
    members: dict[str, list[dict]] = {}
    for run in summary["runs"]:
        members.setdefault(run["group"], []).append(run)
    return dict(sorted(members.items()))


def picks(summary: dict) -> dict[str, dict]:
    """The run of each group with the lowest best validation MSE (the rule: validation only)."""
    return {group: min(runs, key=lambda r: r["best_val_mse"]) for group, runs in groups(summary).items()}


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in order[start : end + 1]:
            out[k] = (start + end) / 2 + 1
        start = end + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation: Pearson's on the ranks."""
    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    return cov / (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5


def markdown(summary: dict) -> str:
    chosen = {run["label"] for run in picks(summary).values()}
    rows = [
        [
            ("**" + run["label"] + "** (picked)") if run["label"] in chosen else run["label"],
            f"{run['best_val_mse'] * 1e4:.3f} (step {run['best_step']:,})",
            *(f"{run['test_psnr'][s]:.2f}" for s in SETS),
        ]
        for run in sorted(summary["runs"], key=lambda r: (r["group"], r["best_val_mse"]))
    ]
    for group, members in groups(summary).items():
        if len(members) < 2:  # no spread to report
            continue
        rows.append(
            [
                f"{group}: mean (std) of {len(members)}",
                "",
                *(
                    f"{statistics.fmean(r['test_psnr'][s] for r in members):.2f} "
                    f"({statistics.stdev(r['test_psnr'][s] for r in members):.2f})"
                    for s in SETS
                ),
            ]
        )
    rows += [[name, "", *(f"{ref[s]:.2f}" for s in SETS)] for name, ref in summary["references"].items()]
    header = ["run", "best validation MSE x 1e4 (its step)", *(f"{s} PSNR (dB)" for s in SETS)]
    correlations = [
        f"- {group}: Spearman (best validation MSE, PSNR) "
        + ", ".join(
            f"{s} {spearman([r['best_val_mse'] for r in members], [r['test_psnr'][s] for r in members]):+.2f}"
            for s in SETS
        )
        for group, members in groups(summary).items()
        if len(members) > 2
    ]
    return "\n".join([*markdown_table(header, rows), "", *correlations])


def figure(summary: dict, path: Path) -> None:
    """Validation MSE against ``sidd-dev`` PSNR, one point per run, the picks ringed, references as lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    chosen = {run["label"] for run in picks(summary).values()}
    for k, (group, members) in enumerate(groups(summary).items()):
        x = [run["best_val_mse"] * 1e4 for run in members]
        y = [run["test_psnr"][SETS[1]] for run in members]
        ax.scatter(x, y, color=f"C{k}", label=group, zorder=3)
        for run, xi, yi in zip(members, x, y, strict=True):
            ax.annotate(str(run["seed"]), (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7)
            if run["label"] in chosen:
                ax.scatter([xi], [yi], s=220, facecolors="none", edgecolors=f"C{k}", linewidths=1.5, zorder=2)
    for k, (name, ref) in enumerate(summary["references"].items()):
        ax.axhline(ref[SETS[1]], color="0.5", linestyle=("--", ":", "-.")[k % 3], linewidth=1, label=name)
    ax.set_xlabel("best validation MSE x 1e4 (64 real sidd-train crops)")
    ax.set_ylabel("sidd-dev PSNR (dB)")
    ax.set_title("Replicates: validation (picks ringed) against the unseen phones", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append", default=[], help="GROUP#SEED=RUN_FOLDER (repeatable)")
    parser.add_argument("--scores", type=Path, help="denoising.json of benchmarks/denoising.py over those labels")
    parser.add_argument(
        "--reference", action="append", default=[], help="NAME=LABEL: a scored model drawn as a line (repeatable)"
    )
    parser.add_argument("--from-summary", type=Path, help="redraw from a summary JSON written by this script")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.from_summary:
        summary = json.loads(args.from_summary.read_text())
    else:
        if not args.run or args.scores is None:
            parser.error("pass --run GROUP#SEED=RUN (repeatable) and --scores, or --from-summary")
        runs = {spec.partition("=")[0]: Path(spec.partition("=")[2]) for spec in args.run}
        references = dict(spec.split("=", 1) for spec in args.reference)
        summary = summarise(runs, json.loads(args.scores.read_text())["results"], references)
    table = markdown(summary)
    write_outputs(
        args.out,
        {"replicates.md": f"# Replicates\n\n{table}\n", "replicates.json": json.dumps(summary, indent=2)},
    )
    figure(summary, args.out / "replicates.png")
    print(table)
    for group, run in picks(summary).items():
        print(f"picked in {group}: {run['label']} (best val_mse {run['best_val_mse']:.6g} at step {run['best_step']})")


if __name__ == "__main__":
    main()
