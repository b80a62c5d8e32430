"""The authors' SIDD models as noiseaug folders: given converted folders, or converted from the official files."""

from __future__ import annotations

from pathlib import Path

from ..convert import convert_n2nflow_pth, convert_noiseflow_tf
from ..data import official_root

NOISE_FLOW = "Noise Flow"
N2NFLOW = "N2NFlow"


def converted_flows(
    noiseflow: str | Path | None, n2nflow: str | Path | None, official: str | Path | None, tmp: Path
) -> dict[str, Path]:
    """``{NOISE_FLOW: folder, N2NFLOW: folder}``: the given converted folders when either is given (only those),
    else both converted into ``tmp`` from the official files under ``official`` (default
    ``noiseaug.data.official_root()``: ``$NOISEAUG_OFFICIAL`` or ``../shared/official``)."""
    if noiseflow or n2nflow:
        return {k: Path(v) for k, v in ((NOISE_FLOW, noiseflow), (N2NFLOW, n2nflow)) if v}
    root = Path(official) if official else official_root()
    return {
        NOISE_FLOW: convert_noiseflow_tf(root / "noiseflow-sidd" / "model.ckpt.best", tmp / "nf"),
        N2NFLOW: convert_n2nflow_pth(root / "noise2noiseflow-sidd" / "epoch_160_nf_model_net.pth", tmp / "n2n"),
    }
