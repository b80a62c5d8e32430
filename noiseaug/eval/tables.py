"""Result tables: markdown rendering and atomic writes of a benchmark's output files.

Every benchmark writes its results as a markdown table (``.md``, also printed) and a JSON record (``.json``)
into its ``--out`` folder; :func:`write_outputs` writes them atomically (``noiseaug.atomic``), so an
interrupted run leaves the previous complete files, never a part.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write, atomic_write_text


def cell(value: float | None, spec: str = ".4f") -> str:
    """``format(value, spec)``, or ``"-"`` for ``None``.

    >>> cell(0.12345), cell(None), cell(3.0, ".2f")
    ('0.1235', '-', '3.00')
    """
    return "-" if value is None else format(value, spec)


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: str | Sequence[str] = "---:", first: str = "---"
) -> list[str]:
    """Lines of a markdown table: the header, the separator (``first`` under the first column, ``align`` under
    the others: one string for all or one per column) and one line per row of already formatted cells.

    >>> print("\\n".join(markdown_table(["model", "KLD"], [["a", "0.1"]])))
    | model | KLD |
    | --- | ---: |
    | a | 0.1 |
    """
    aligns = [align] * (len(header) - 1) if isinstance(align, str) else list(align)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join([first, *aligns]) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def write_outputs(out: str | Path, files: Mapping[str, str]) -> list[Path]:
    """Write each ``{file name: text}`` into the folder ``out`` (created if missing), atomically; the paths."""
    folder = Path(out)
    return [atomic_write_text(folder / name, text) for name, text in files.items()]


def write_report(out: str | Path, name: str, report: Mapping[str, object], table: str) -> list[Path]:
    """Print the markdown ``table`` and write ``<out>/<name>.json`` (``report``, indent 2) and ``<out>/<name>.md``."""
    print(table)
    return write_outputs(out, {f"{name}.json": json.dumps(report, indent=2) + "\n", f"{name}.md": table + "\n"})


def save_figure(figure: Any, path: str | Path, **savefig: object) -> Path:
    """``figure.savefig(path, **savefig)`` (a matplotlib figure), written atomically; the format follows the
    suffix of ``path``."""
    return atomic_write(path, lambda tmp: figure.savefig(tmp, **savefig))


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend (matplotlib: the ``bench`` extra), imported
    only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
