"""The fitted latent with one std per channel against a brightness-dependent std, on *training* pairs.

Where ``NAFlow.fit_latent``'s default was chosen, before any test set was run: every third ``sidd-train`` pair and
every sixth PolyU / CC15 training pair (``real_srgb_split``), top-left 256x256. Each target pair is noised (8-bit,
as in ``naflow_srgb.py``) from two references: itself (``self``, what ``naflow_srgb.py`` measures) and the next
training pair of the same camera configuration (``other``, a reference that is not the target, as when a user
noises their own clean images like a reference photo; configurations with one pair are left out of it). Rows: the
NLF fitted to the reference, the fitted latent, and the fitted latent whose std follows the brightness
(``signal_dependent=True``); KLD / AKLD against the target's real noise, means per group.

    python benchmarks/naflow_fitted_latent.py --model naflow-srgb
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import Tensor

from noiseaug import NAFlow
from noiseaug.data.paired import ImagePair
from noiseaug.data.real_srgb import SOURCES, configuration_name, is_phone_pair, real_srgb_split
from noiseaug.demo import quantize_8bit
from noiseaug.eval import NLF_FIT, crop_pair, divergences, fit_per_image, seeded_generator
from noiseaug.imageio import read_image

SIDE = 256
ROWS = (NLF_FIT, "NAFlow (fitted latent)", "NAFlow (fitted latent, brightness-dependent std)")
REFERENCES = ("self", "other")


def load(pair: ImagePair, multiple: int) -> tuple[Tensor, Tensor]:
    """The pair's top-left ``SIDE`` square, cropped to ``multiple``."""
    noisy = read_image(pair.noisy_path)[None, :, :SIDE, :SIDE]
    return crop_pair(noisy, read_image(pair.clean_path)[None, :, :SIDE, :SIDE], multiple)


def next_of_configuration(pair: ImagePair, pairs: list[ImagePair]) -> ImagePair | None:
    """The training pair after ``pair`` (cyclically) with its configuration, ``None`` if it is the only one."""
    same = [p for p in pairs if configuration_name(p) == configuration_name(pair)]
    return None if len(same) < 2 else same[(same.index(pair) + 1) % len(same)]


@torch.no_grad()
def synthesize(model: NAFlow, reference: tuple[Tensor, Tensor], clean: Tensor, generator: torch.Generator) -> dict:
    """Each row's 8-bit noisy image for ``clean``, fitted to ``reference`` ``(noisy, clean)``."""
    ref_noisy, ref_clean = reference
    images = {
        ROWS[0]: fit_per_image(ref_noisy, ref_clean)[NLF_FIT].sample(clean, generator=generator),
        ROWS[1]: model.sample_fitted(clean, ref_noisy, ref_clean, generator),
        ROWS[2]: model.sample_fitted(clean, ref_noisy, ref_clean, generator, signal_dependent=True),
    }
    return {row: quantize_8bit(image) for row, image in images.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = NAFlow.from_pretrained(args.model).eval()
    train, _ = real_srgb_split(sources=SOURCES)
    phones = [p for p in train if is_phone_pair(p)]
    dslrs = [p for p in train if p.noisy_path.parent.name in ("polyu", "nam-cc15")]
    groups = {"sidd-train (phones)": (phones, phones[::3]), "PolyU + CC15 training (DSLRs)": (dslrs, dslrs[::6])}
    print("| training pairs | model | self: KLD / AKLD | other: KLD / AKLD |")
    print("| --- | --- | ---: | ---: |")
    for g, (group, (pool, targets)) in enumerate(groups.items()):
        scores: dict[tuple[str, str], list[dict[str, float]]] = {(r, k): [] for r in ROWS for k in REFERENCES}
        for i, pair in enumerate(targets):
            noisy, clean = load(pair, model.multiple)
            other = next_of_configuration(pair, pool)
            references = {"self": (noisy, clean), "other": None if other is None else load(other, model.multiple)}
            for k, (kind, reference) in enumerate(references.items()):
                if reference is None:
                    continue
                synthetic = synthesize(model, reference, clean, seeded_generator(args.seed, g, i, k))
                for row, image in synthetic.items():
                    scores[row, kind].append(divergences(noisy - clean, image - clean))
        counts = {kind: len(scores[ROWS[0], kind]) for kind in REFERENCES}
        for row in ROWS:
            cells = [
                " / ".join(f"{statistics.mean(s[m] for s in scores[row, kind]):.4f}" for m in ("kld", "akld"))
                for kind in REFERENCES
            ]
            print(f"| {group} ({counts['self']} / {counts['other']}) | {row} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
