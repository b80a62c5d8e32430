"""Data: real noisy/clean pairs, the SIDD layout, patch sampling, and a simulated camera.

Conventions: images ``(C, H, W)`` float32 in [0, 1]; raw is packed Bayer ``(4, H/2, W/2)`` by CFA
position with the pattern in metadata, normalized ``(DN - black) / (white - black)``. The data root
is ``$NOISEAUG_DATA`` or ``../shared/data`` (see :func:`data_root`). Details: docs/DATA.md.
"""

from .bayer import BAYER_PATTERNS, demosaic, mosaic_rgb, pack_bayer, unpack_bayer
from .camera import CameraDraw, SimulatedCamera
from .isp import ISPParams, process, process_rgb, random_isp_params, unprocess, unprocess_rgb
from .names import PairMeta, parse_cc15, parse_polyu, parse_sidd_dev
from .paired import ImagePair, PairedImageFolder
from .patches import RandomPatches, random_patch
from .root import data_folder, data_root, official_root
from .sensor import SIDD_NLF, SIDD_SENSORS, SIM_ISOS, SIM_SENSORS, SensorSpec
from .sidd import SIDDNoisyPairs, SIDDPairs, SIDDScene, parse_sidd_folder, read_sidd_mat
from .simulated_pairs import SimulatedRawPairs, read_image_folder
from .splits import split_scenes, train_test_split

__all__ = [
    "BAYER_PATTERNS",
    "CameraDraw",
    "ISPParams",
    "ImagePair",
    "PairMeta",
    "PairedImageFolder",
    "RandomPatches",
    "SIDDNoisyPairs",
    "SIDDPairs",
    "SIDDScene",
    "SIDD_NLF",
    "SIDD_SENSORS",
    "SIM_ISOS",
    "SIM_SENSORS",
    "SensorSpec",
    "SimulatedCamera",
    "SimulatedRawPairs",
    "read_image_folder",
    "data_folder",
    "data_root",
    "official_root",
    "demosaic",
    "mosaic_rgb",
    "pack_bayer",
    "parse_cc15",
    "parse_polyu",
    "parse_sidd_dev",
    "parse_sidd_folder",
    "process",
    "process_rgb",
    "random_isp_params",
    "random_patch",
    "read_sidd_mat",
    "split_scenes",
    "train_test_split",
    "unpack_bayer",
    "unprocess",
    "unprocess_rgb",
]
