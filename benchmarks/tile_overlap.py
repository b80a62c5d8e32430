"""How much context tiled flow sampling needs: tiled vs whole-image decoding of one latent, per overlap.

For the released ``naflow-srgb`` (a 256x256 crop of the 4th Kodak image, tiles of 64 px, configuration 2)
and ``noiseflow-simcam`` (its grey Bayer packing, 128x128 packed, tiles of 32, ISO 3200, camera 1), the
same latent is decoded whole and in tiles with each overlap; the table gives the largest and mean
absolute difference of the noise in /255. The models' ``tile_overlap`` is chosen from it.

    python benchmarks/tile_overlap.py
"""

from __future__ import annotations

import torch

from noiseaug import NAFlow, NoiseCondition, NoiseFlow
from noiseaug.data.bayer import pack_bayer
from noiseaug.data.root import data_folder
from noiseaug.flows.tiling import decode_in_tiles
from noiseaug.imageio import image_files, read_image


def report(name: str, whole: torch.Tensor, tiled: dict[int, torch.Tensor]) -> None:
    print(
        f"\n{name}: noise std {float(whole.std()) * 255:.2f}/255\n| overlap | max diff (/255) | mean diff (/255) |\n| ---: | ---: | ---: |"
    )
    for overlap, noise in tiled.items():
        diff = (noise - whole).abs() * 255
        print(f"| {overlap} | {float(diff.max()):.2g} | {float(diff.mean()):.2g} |")


@torch.no_grad()
def main() -> None:
    image = read_image(image_files(data_folder("clean", "kodak24"))[3])[None, :, :256, :256]
    generator = torch.Generator().manual_seed(0)
    naflow = NAFlow.from_pretrained("naflow-srgb")
    z = naflow.means[2][None, :, None, None] + naflow.log_stds[2].exp()[None, :, None, None] * torch.randn(
        1, naflow.latent_channels, 32, 32, generator=generator
    )
    report(
        "naflow-srgb",
        naflow.decode(z, image),
        {
            o: decode_in_tiles(lambda zt, ct, _: naflow.decode(zt, ct), z, image, tile=64, overlap=o)
            for o in (0, 8, 16, 24, 32, 48, 64)
        },
    )
    noiseflow = NoiseFlow.from_pretrained("noiseflow-simcam")
    packed = pack_bayer(image.mean(1, keepdim=True), "RGGB")
    condition = noiseflow.flow_condition(packed, NoiseCondition(iso=torch.tensor([3200.0]), camera=torch.tensor([1])))
    z = torch.randn(packed.shape, generator=generator)
    report(
        "noiseflow-simcam (packed pixels)",
        noiseflow.decode(z, condition),
        {
            o: decode_in_tiles(
                lambda zt, ct, rows: noiseflow.decode(zt, condition.crop(rows, ct)), z, packed, tile=32, overlap=o
            )
            for o in (0, 2, 4, 8, 16)
        },
    )


if __name__ == "__main__":
    main()
