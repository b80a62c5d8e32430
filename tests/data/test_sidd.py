"""The SIDD layout loader, on small synthetic files written in SIDD's formats."""

import numpy as np
import pytest
import torch

from noiseaug.data import SIDDNoisyPairs, SIDDPairs, parse_sidd_folder, read_sidd_mat, unpack_bayer
from noiseaug.imageio import write_png

FOLDERS = ["0001_001_S6_00100_00060_3200_L", "0052_002_GP_01600_01000_5500_N"]


def _write_mat(path, mosaic):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=mosaic.T)  # MATLAB v7.3 stores column-major: HDF5 sees the transpose


@pytest.fixture()
def sidd_raw(tmp_path):
    pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    mosaics = {}
    for folder in FOLDERS:
        d = tmp_path / "SIDD_Medium_Raw" / "Data" / folder
        d.mkdir(parents=True)
        inst = folder[:4]
        for capture in (10, 11, 12):
            for kind in ("GT", "NOISY"):
                m = rng.random((8, 12)).astype(np.float32)
                mosaics[(folder, kind, capture)] = m
                _write_mat(d / f"{inst}_{kind}_RAW_{capture:03d}.MAT", m)
        (d / f"{inst}_METADATA_RAW_010.MAT").write_bytes(b"not parsed")
    (tmp_path / "SIDD_Medium_Raw" / "Data" / "README_extra").mkdir()
    return tmp_path / "SIDD_Medium_Raw", mosaics


def test_parse_sidd_folder():
    s = parse_sidd_folder("0052_002_S6_01600_01000_5500_N")
    assert (s.instance, s.scene, s.camera, s.iso, s.shutter, s.illuminant, s.brightness) == (
        52,
        2,
        "S6",
        1600,
        1000,
        5500,
        "N",
    )
    with pytest.raises(ValueError, match="not a SIDD scene-instance folder name"):
        parse_sidd_folder("0052_S6_01600")


def test_read_sidd_mat_orientation(tmp_path):
    m = np.arange(24, dtype=np.float32).reshape(4, 6)
    _write_mat(tmp_path / "x.MAT", m)
    assert torch.equal(read_sidd_mat(tmp_path / "x.MAT")[0], torch.from_numpy(m))


def test_raw_pairs(sidd_raw):
    root, mosaics = sidd_raw
    ds = SIDDPairs(root, "raw", cfa={"S6": "GRBG", "GP": "BGGR"})
    assert len(ds) == 6
    item = ds[0]
    assert item["noisy"].shape == (4, 4, 6)
    assert (item["camera"], item["iso"], item["scene"], item["pattern"], item["capture"]) == (
        "S6",
        100.0,
        "001",
        "GRBG",
        10,
    )
    assert item["shutter"] == 60 and item["illuminant"] == 3200 and item["brightness"] == "L"
    expected = torch.from_numpy(mosaics[(FOLDERS[0], "NOISY", 10)])
    assert torch.equal(unpack_bayer(item["noisy"], item["pattern"])[0], expected)
    assert ds[5]["pattern"] == "BGGR" and ds.scene_ids() == ["001"] * 3 + ["002"] * 3
    assert SIDDPairs(root / "Data")[0]["pattern"] == "unknown"


def test_noisy_pairs_are_consecutive_captures(sidd_raw):
    root, mosaics = sidd_raw
    ds = SIDDNoisyPairs(root)
    assert len(ds) == 4  # captures (10, 11) and (11, 12) in each folder
    item = ds[1]
    assert item["capture"] == 11
    assert torch.equal(unpack_bayer(item["noisy1"])[0], torch.from_numpy(mosaics[(FOLDERS[0], "NOISY", 11)]))
    assert torch.equal(unpack_bayer(item["noisy2"])[0], torch.from_numpy(mosaics[(FOLDERS[0], "NOISY", 12)]))
    assert "clean" in item


def test_srgb_layout(tmp_path):
    d = tmp_path / "SIDD_Medium_Srgb" / "Data" / FOLDERS[1]
    g = torch.Generator().manual_seed(0)
    for capture in (10, 11):
        write_png(d / f"0052_GT_SRGB_{capture:03d}.PNG", torch.rand(3, 8, 8, generator=g))
        write_png(d / f"0052_NOISY_SRGB_{capture:03d}.PNG", torch.rand(3, 8, 8, generator=g))
    ds = SIDDPairs(tmp_path / "SIDD_Medium_Srgb", "srgb")
    assert len(ds) == 2 and ds[0]["noisy"].shape == (3, 8, 8) and ds[0]["camera"] == "GP" and ds[0]["iso"] == 1600.0
    assert len(SIDDNoisyPairs(tmp_path / "SIDD_Medium_Srgb", "srgb")) == 1
    with pytest.raises(ValueError, match="no GT/NOISY pairs \\(raw\\)"):
        SIDDPairs(tmp_path / "SIDD_Medium_Srgb", "raw")
    with pytest.raises(ValueError, match="cfa must be one of"):
        SIDDPairs(tmp_path / "SIDD_Medium_Srgb", "srgb", cfa="XYZW")
