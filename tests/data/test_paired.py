"""Real-pair folders (the shared data), data root override, scene splits and the patch sampler."""

import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from noiseaug.data import PairedImageFolder, RandomPatches, data_root, random_patch, split_scenes, train_test_split
from noiseaug.data.names import PairMeta, parse_polyu
from noiseaug.imageio import write_png


@pytest.fixture(scope="module")
def shared_root():
    try:
        return data_root()
    except FileNotFoundError as err:
        pytest.skip(f"shared data not available: {err}")


def test_polyu_pairs_and_metadata(shared_root):
    ds = PairedImageFolder.polyu()
    assert len(ds) == 100
    assert all(p.camera in {"Canon5D2", "Canon600D", "Canon80D", "NikonD800", "Sony"} for p in ds.pairs)
    assert all(p.iso in {800, 1600, 1800, 3200, 4000, 5000, 6400, 12800} for p in ds.pairs)
    first = next(p for p in ds.pairs if p.name == "Canon5D2_5_160_3200_chair_11")
    assert (first.camera, first.iso, first.scene) == ("Canon5D2", 3200, "Canon5D2/chair")
    item = ds[0]
    assert item["noisy"].shape == item["clean"].shape == (3, 512, 512) and item["noisy"].dtype == torch.float32


def test_cc15_and_sidd_dev_pairs_and_metadata(shared_root):
    cc15 = PairedImageFolder.nam_cc15()
    assert len(cc15) == 15
    assert {(p.camera, p.iso) for p in cc15.pairs} == {
        ("5dmark3", 3200),
        ("d600", 3200),
        ("d800", 1600),
        ("d800", 3200),
        ("d800", 6400),
    }
    sidd = PairedImageFolder.sidd_dev()
    assert len(sidd) == 5
    labels = {p.name: (p.camera, p.iso) for p in sidd.pairs}
    assert labels["naflow-0032-0023"] == ("S6", 3200) and labels["naflow-0018-0017"] == ("GP", 6400)
    assert labels["danet-block"] == (None, None)
    batch = next(iter(DataLoader(RandomPatches(sidd, 64, per_image=2, seed=0), batch_size=10)))
    assert batch["noisy"].shape == (10, 3, 64, 64)
    assert math.isnan(batch["iso"][[i for i, n in enumerate(batch["name"]) if n == "danet-block"][0]].item())


def test_polyu_names_without_iso():
    assert parse_polyu("Sony_plant_3").iso is None
    assert parse_polyu("NikonD800_6-3_125_5000_plant__4").iso == 5000


def test_noiseaug_data_override(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISEAUG_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="NOISEAUG_DATA points to .*missing"):
        data_root()
    folder = tmp_path / "real-srgb" / "polyu"
    image = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    write_png(folder / "Cam_5_100_800_desk_1_real.png", image)
    write_png(folder / "Cam_5_100_800_desk_1_mean.png", image)
    monkeypatch.setenv("NOISEAUG_DATA", str(tmp_path))
    ds = PairedImageFolder.polyu()
    assert len(ds) == 1 and (ds.pairs[0].camera, ds.pairs[0].iso) == ("Cam", 800)


def test_missing_partner_and_empty_folder(tmp_path):
    write_png(tmp_path / "a_real.png", torch.zeros(3, 4, 4))
    with pytest.raises(FileNotFoundError, match="no clean partner a_mean.png"):
        PairedImageFolder(tmp_path)
    with pytest.raises(ValueError, match="no '\\*_noisy"):
        PairedImageFolder(tmp_path, "_noisy", "_clean")


def test_scene_split_is_deterministic_and_keeps_scenes_together(shared_root):
    ds = PairedImageFolder.polyu()
    train, test = train_test_split(ds, 0.2)
    again_train, again_test = train_test_split(PairedImageFolder.polyu(), 0.2)
    assert train.indices == again_train.indices and test.indices == again_test.indices
    scenes = ds.scene_ids()
    assert not {scenes[i] for i in train.indices} & {scenes[i] for i in test.indices}
    assert len(train) + len(test) == 100 and 0 < len(test) < 100
    _, other = train_test_split(ds, 0.2, salt="other")
    assert other.indices != test.indices


def test_split_scenes_counts():
    scenes = [f"s{i // 3}" for i in range(30)]  # 10 scenes, 3 crops each
    train, test = split_scenes(scenes, 0.3)
    assert len(test) == 9 and len(train) == 21
    assert split_scenes(["a", "a"], 0.5) == ([0, 1], [])
    with pytest.raises(ValueError, match="test_fraction"):
        split_scenes(scenes, 1.0)


def test_random_patch_applies_one_transform_to_all_images():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 20, 30, generator=g)
    b = a * 2
    raw = torch.rand(4, 20, 30, generator=g)
    for seed in range(8):
        pa, pb, praw = random_patch([a, b, raw], 8, torch.Generator().manual_seed(seed))
        assert pa.shape == (3, 8, 8) and praw.shape == (4, 8, 8)
        assert torch.equal(pb, pa * 2)
    with pytest.raises(ValueError, match="size must be in 1..20"):
        random_patch([a], 21)
    with pytest.raises(ValueError, match="share their spatial size"):
        random_patch([a, a[:, :10]], 4)


def test_random_patches_are_reproducible(tmp_path):
    for k in range(2):
        img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(k))
        write_png(tmp_path / f"img{k}_noisy.png", img)
        write_png(tmp_path / f"img{k}_clean.png", img)
    ds = PairedImageFolder(tmp_path, "_noisy", "_clean")
    p1, p2 = RandomPatches(ds, 16, per_image=3, seed=5), RandomPatches(ds, 16, per_image=3, seed=5)
    assert len(p1) == 6
    assert all(torch.equal(p1[i]["noisy"], p2[i]["noisy"]) for i in range(6))
    assert all(torch.equal(p1[i]["noisy"], p1[i]["clean"]) for i in range(6))
    p2.set_epoch(1)
    assert not all(torch.equal(p1[i]["noisy"], p2[i]["noisy"]) for i in range(6))


def test_full_photo_and_sidd_train_names():
    from noiseaug.data.names import parse_polyu_full, parse_sidd_train

    assert parse_polyu_full("Nikon_800_carbi") == PairMeta("NikonD800", None, "NikonD800/carbi")
    assert parse_polyu_full("Canon80D_GO") == PairMeta("Canon80D", None, "Canon80D/go")
    assert parse_sidd_train("S6_iso00800_0009_001_0000-0003") == PairMeta("S6", 800, "sidd/0009_001")
    assert parse_sidd_train("N6_iso03200_0056_003_0010-0013").iso == 3200


def test_full_photos_join_their_crops_scene_and_iso():
    from noiseaug.data.paired import ImagePair
    from noiseaug.data.real_srgb import attach_full_photos

    def pair(name, camera, iso, scene):
        return ImagePair(name, Path(name), Path(name), camera, iso, scene)

    crops = [
        pair("a", "Canon5D2", 6400, "Canon5D2/bicycle"),
        pair("b", "NikonD800", 3200, "NikonD800/classroom"),
        pair("c", "NikonD800", 1800, "NikonD800/classroom"),
    ]
    photos = [
        pair("p", "Canon5D2", None, "Canon5D2/bicyc"),
        pair("q", "NikonD800", None, "NikonD800/class"),
        pair("r", "Sony", None, "Sony/bicyc"),
    ]
    joined = attach_full_photos(photos, crops)
    assert [(p.scene, p.iso) for p in joined] == [
        ("Canon5D2/bicycle", 6400),
        ("NikonD800/classroom", None),
        ("Sony/bicyc", None),
    ]


def test_every_source_keeps_the_held_out_scenes_out_of_training(shared_root):
    from noiseaug.data.real_srgb import SOURCES, real_srgb_split

    base_train, base_test = real_srgb_split()
    train, test = real_srgb_split(sources=SOURCES)
    assert test == base_test and set(base_train) <= set(train)
    held_out = {p.scene for p in test}
    assert not {p.scene for p in train} & held_out
    full = [p for p in train if p.noisy_path.parent.name == "polyu-full"]
    phones = [p for p in train if p.noisy_path.parent.name == "sidd-train"]
    assert len(phones) == 43 and {p.camera for p in phones} == {"S6", "N6"}
    assert 0 < len(full) < 29  # the photos of held-out scenes are left out
    with pytest.raises(ValueError, match="sources must be a non-empty selection"):
        real_srgb_split(sources=("sidd-dev",))


def test_validation_scenes_come_from_training_and_keep_every_configuration(shared_root):
    from noiseaug.data.real_srgb import SOURCES, configuration_name, is_phone_pair, real_srgb_split, validation_split

    train, test = real_srgb_split(sources=SOURCES)
    kept, validation = validation_split(train)
    assert validation and sorted(map(str, kept + validation)) == sorted(map(str, train))
    scenes = {p.scene for p in validation}
    assert not scenes & {p.scene for p in kept} and not scenes & {p.scene for p in test}
    assert {configuration_name(p) for p in kept} == {configuration_name(p) for p in train}
    assert not any(is_phone_pair(p) for p in validation)
    assert {p.noisy_path.parent.name for p in validation} == {"polyu", "polyu-full"}  # photos go with their crops
    assert validation_split(train) == (kept, validation)


def test_validation_split_errors_name_what_is_missing(tmp_path):
    from noiseaug.data.real_srgb import validation_split

    def pairs(*stems):
        for stem in stems:
            for suffix in ("mean", "real"):
                write_png(tmp_path / "polyu" / f"{stem}_{suffix}.png", torch.zeros(3, 4, 4))
        return PairedImageFolder.polyu(tmp_path / "polyu").pairs

    with pytest.raises(ValueError, match="at least two scenes .* got 1"):
        validation_split(pairs("Canon5D2_5_160_3200_chair_1"))
    lone = pairs("Canon5D2_5_160_3200_chair_1", "Nikon800_4-5_125_1600_door_3")  # one configuration per scene
    with pytest.raises(ValueError, match="without losing its camera configuration"):
        validation_split(lone)
