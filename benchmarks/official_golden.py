"""The converted SIDD Noise Flow and Noise2NoiseFlow against the outputs of the authors' own code (golden.npz).

Converts both official checkpoints from ``--official`` (default ``$NOISEAUG_OFFICIAL`` or ``../shared/official``)
into a temporary folder with ``noiseaug.convert``, runs the 8 golden samples (five cameras and ISOs mixed) through
them in one batch, and prints the largest differences from the golden values: the summed log-likelihood (nats over
4,096 dimensions; the golden values carry float32 rounding of about 0.003 nats), ``inverse(z)`` (latent -> noise),
the latent of the noise, and the per-layer log-determinants; plus the mean log-likelihood per dimension. The
tests (``tests/test_official_weights.py``) assert 0.01 nats and 1e-5. Reproduce:

    python benchmarks/official_golden.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from noiseaug import NoiseCondition, NoiseFlow
from noiseaug.convert import convert_n2nflow_pth, convert_noiseflow_tf
from noiseaug.data import official_root

PERM = [0, 1, 3, 2]  # the authors' packed order <-> noiseaug's


def compare(flow: NoiseFlow, g: dict) -> dict[str, float]:
    clean, noise = torch.from_numpy(g["clean"])[:, PERM], torch.from_numpy(g["noise"])[:, PERM]
    cond = NoiseCondition(iso=torch.from_numpy(g["iso"]).float(), camera=torch.from_numpy(g["cam"]))
    with torch.no_grad():
        loglik = flow.log_prob(clean + noise, clean, cond).double().numpy()
        fc = flow.flow_condition(clean, cond)
        inverse = flow.decode(torch.from_numpy(g["z"]), fc)[:, PERM].numpy()
        latent = flow.encode(noise, fc)[0].numpy()
        x = noise[:, flow._to_weights]
        fcw = type(fc)(clean=fc.clean[:, flow._to_weights], iso=fc.iso, iso_index=fc.iso_index, camera=fc.camera)
        logdets = []
        for layer in flow.layers:
            x, ld = layer(x, fcw)
            logdets.append(ld.double().numpy())
    return {
        "loglik": float(np.abs(loglik - g["loglik"]).max()),
        "inverse": float(np.abs(inverse - g["inverse_noise"]).max()),
        "latent": float(np.abs(latent - g["latent_of_noise"]).max()),
        "layer_logdet": float(np.abs(np.stack(logdets, 1) - g["layer_logdet"][:, : len(flow.layers)]).max()),
        "loglik_per_dim": float(loglik.mean() / 4096),
        "golden_loglik_per_dim": float(g["loglik_per_dim"].mean()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--official", help="folder of the official files (default: $NOISEAUG_OFFICIAL or ../shared/official)"
    )
    args = parser.parse_args(argv)
    root = Path(args.official) if args.official else official_root()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder, convert, source in (
            ("Noise Flow (TF checkpoint)", "noiseflow-sidd", convert_noiseflow_tf, "model.ckpt.best"),
            ("Noise2NoiseFlow (.pth)", "noise2noiseflow-sidd", convert_n2nflow_pth, "epoch_160_nf_model_net.pth"),
        ):
            out = convert(root / folder / source, Path(tmp) / folder)
            g = np.load(root / folder / "golden.npz")
            results[name] = compare(NoiseFlow.from_pretrained(out), {k: g[k] for k in g.files})
    print(
        "| model | max abs. diff. log-likelihood (nats / 4,096 dims) | inverse(z) | latent | per-layer log-det | "
        "mean log p / dim (golden) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(
            f"| {name} | {r['loglik']:.4f} | {r['inverse']:.1e} | {r['latent']:.1e} | {r['layer_logdet']:.4f} | "
            f"{r['loglik_per_dim']:.4f} ({r['golden_loglik_per_dim']:.4f}) |"
        )
    return results


if __name__ == "__main__":
    main()
