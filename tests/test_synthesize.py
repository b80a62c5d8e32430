"""``noiseaug synthesize``: a folder of clean images in, noisy 8-bit PNGs and metadata.json out."""

import json
import re
import subprocess
import sys

import pytest
import torch

from noiseaug.cli import build_parser, main
from noiseaug.imageio import read_image, write_png
from noiseaug.synthesize import build_transform, image_seed
from noiseaug.transforms.naflow import MODES


@pytest.fixture
def clean_folder(tmp_path):
    g = torch.Generator().manual_seed(0)
    folder = tmp_path / "clean"
    write_png(folder / "a.png", torch.rand(3, 20, 30, generator=g))
    write_png(folder / "b.png", torch.full((3, 64, 48), 0.5))
    return folder


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "noiseaug", "synthesize", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def outputs(folder):
    return {p.name: read_image(p) for p in sorted(folder.glob("*.png"))}


def test_cli_writes_same_size_pngs_and_metadata_reproducibly(clean_folder, tmp_path):
    for out in ("a", "b"):
        result = run_cli(str(clean_folder), "--out", out, "--model", "nlf", "--seed", "1", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "100%" in result.stderr  # the tqdm bar
    first, second = outputs(tmp_path / "a"), outputs(tmp_path / "b")
    assert sorted(first) == ["a.png", "b.png"]
    sources = outputs(clean_folder)
    for name, noisy in first.items():
        assert noisy.shape == sources[name].shape and torch.equal(noisy, second[name])
        assert not torch.equal(noisy, sources[name])
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert meta == json.loads((tmp_path / "b" / "metadata.json").read_text())
    assert meta["model"] == "nlf" and meta["seed"] == 1
    for name, record in meta["files"].items():
        assert record["model"] == "nlf" and record["mode"] is None and record["seed"] == image_seed(1, name)
        assert 1e-4 <= record["params"]["beta1"] <= 2e-2 and 1e-6 <= record["params"]["beta2"] <= 5e-3


def test_cli_naflow_configuration_mode(clean_folder, tmp_path):
    result = run_cli(
        str(clean_folder),
        "--out",
        "n",
        "--model",
        "naflow-srgb",
        "--mode",
        "configuration",
        "--configuration",
        "d800-iso3200",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "n" / "metadata.json").read_text())
    assert {r["configuration"] for r in meta["files"].values()} == {"d800-iso3200"}
    assert {r["mode"] for r in meta["files"].values()} == {"configuration"}
    noisy = outputs(tmp_path / "n")
    assert noisy["a.png"].shape == (3, 20, 30) and noisy["b.png"].shape == (3, 64, 48)  # padded and cropped back


def test_cli_errors_for_raw_flows_and_misplaced_options(clean_folder, tmp_path, capsys):
    result = run_cli(str(clean_folder), "--out", "r", "--model", "noiseflow-simcam", cwd=tmp_path)
    assert result.returncode == 2 and "raw-RGB" in result.stderr and not (tmp_path / "r").exists()
    for args, message in [
        (["--model", "awgn", "--mode", "random"], "only NAFlow models take"),
        (["--model", "naflow-srgb", "--sigma", "0.1"], "parameters of awgn/nlf/pg"),
        (["--model", "naflow-srgb", "--mode", "configuration"], "needs exactly one configuration"),
        (["--model", "naflow-srgb", "--mode", "reference"], "reference=.* is required"),
        (["--model", "awgn", "--sigma", "0.1", "0.2", "0.3"], "one value .fixed. or two"),
        (["--model", "nlf", "--sigma", "0.1"], r"takes the parameters \['beta1', 'beta2'\]"),
        (["--model", "awgn", "--tone-shift", "0.3"], "tone_shift: only NAFlow models take"),
        (["--model", "naflow-srgb", "--temperature", "0.5", "1", "2"], "temperature takes one value"),
        (["--model", "naflow-srgb", "--temperature", "0", "2"], "temperature values must be > 0"),
        (["--model", "naflow-srgb", "--tone-shift", "-0.1"], "tone_shift must be"),
        (["--model", "no-such-model"], "model must be one of"),
    ]:
        assert main(["synthesize", str(clean_folder), "--out", str(tmp_path / "x"), *args]) == 2, args
        assert re.search(message, capsys.readouterr().err), args
    assert not (tmp_path / "x").exists()


def test_recorded_sigma_is_the_drawn_one_and_noise_depends_on_name_not_folder(clean_folder, tmp_path):
    assert (
        main(
            [
                "synthesize",
                str(clean_folder),
                "--out",
                str(tmp_path / "g"),
                "--model",
                "awgn",
                "--sigma",
                "0.02",
                "0.08",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    meta = json.loads((tmp_path / "g" / "metadata.json").read_text())
    grey = read_image(tmp_path / "g" / "b.png")  # mid-grey source: no clipping, 8-bit rounding only
    sigma = meta["files"]["b.png"]["params"]["sigma"]
    assert 0.02 <= sigma <= 0.08
    assert float((grey - 0.5).std()) == pytest.approx(sigma, rel=0.08)
    # the written image is the transform's output for the recorded seed
    transform = build_transform("awgn", params={"sigma": [0.02, 0.08]})
    again = transform(
        read_image(clean_folder / "b.png"), generator=torch.Generator().manual_seed(meta["files"]["b.png"]["seed"])
    )
    assert torch.equal((again * 255).round() / 255, grey)
    # adding a file to the folder does not change the others' noise
    write_png(clean_folder / "c.png", torch.rand(3, 8, 8))
    assert (
        main(
            [
                "synthesize",
                str(clean_folder),
                "--out",
                str(tmp_path / "h"),
                "--model",
                "awgn",
                "--sigma",
                "0.02",
                "0.08",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    assert torch.equal(read_image(tmp_path / "h" / "a.png"), read_image(tmp_path / "g" / "a.png"))
    assert (
        main(
            [
                "synthesize",
                str(clean_folder),
                "--out",
                str(tmp_path / "i"),
                "--model",
                "awgn",
                "--sigma",
                "0.02",
                "0.08",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    assert not torch.equal(read_image(tmp_path / "i" / "a.png"), read_image(tmp_path / "g" / "a.png"))


def test_cli_mode_choices_are_the_transforms_modes():
    synthesize = build_parser()._subparsers._group_actions[0].choices["synthesize"]
    mode = next(a for a in synthesize._actions if a.dest == "mode")
    assert tuple(mode.choices) == MODES


@pytest.mark.parametrize("method", ["nas", "fitted"])
def test_cli_naflow_reference_modes(clean_folder, tmp_path, method):
    g = torch.Generator().manual_seed(3)
    clean = torch.rand(3, 48, 48, generator=g) * 0.5 + 0.25
    write_png(tmp_path / "ref_clean.png", clean)
    write_png(tmp_path / "ref_noisy.png", (clean + 6 / 255 * torch.randn(3, 48, 48, generator=g)).clamp(0, 1))
    result = run_cli(
        str(clean_folder),
        "--out",
        "ref",
        "--model",
        "naflow-srgb",
        "--mode",
        "reference",
        "--reference",
        "ref_noisy.png",
        "ref_clean.png",
        "--reference-method",
        method,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "ref" / "metadata.json").read_text())
    assert f"reference_method='{method}'" in meta["transform"]
    noise = outputs(tmp_path / "ref")["b.png"] - 0.5  # the flat grey image
    assert float(noise.std()) > 1 / 255
    if method == "fitted":  # matched to the reference's 6/255 on its own clean image, so loosely on flat grey
        assert 2 / 255 < float(noise.std()) < 12 / 255  # the released flow's noise there: 2.7/255
    misplaced = run_cli(
        str(clean_folder), "--out", "x", "--model", "naflow-srgb", "--reference-method", method, cwd=tmp_path
    )
    assert misplaced.returncode == 2 and "options of --mode reference only" in misplaced.stderr


def test_cli_naflow_temperature_range_and_tone_shift_are_recorded_and_replayable(clean_folder, tmp_path):
    args = ["--model", "naflow-srgb", "--mode", "configuration", "--configuration", "s6-iso800", "--seed", "2"]
    plain = run_cli(str(clean_folder), "--out", "plain", *args, "--temperature", "1", cwd=tmp_path)
    toned = run_cli(
        str(clean_folder), "--out", "toned", *args, "--temperature", "1", "--tone-shift", "0.6", cwd=tmp_path
    )
    spread = run_cli(str(clean_folder), "--out", "spread", *args, "--temperature", "0.5", "2", cwd=tmp_path)
    for result in (plain, toned, spread):
        assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "spread" / "metadata.json").read_text())
    assert "temperature=log-U(0.5, 2)" in meta["transform"]
    drawn = [record["temperature"] for record in meta["files"].values()]
    assert all(0.5 <= v <= 2 for v in drawn) and drawn[0] != drawn[1]  # one log-uniform draw per image
    assert "tone_shift=0.6" in json.loads((tmp_path / "toned" / "metadata.json").read_text())["transform"]
    # the same draw, darkened: on the flat grey image the toned noise's mean is lower
    grey = {name: outputs(tmp_path / name)["b.png"] - 0.5 for name in ("plain", "toned")}
    assert float(grey["toned"].mean()) < float(grey["plain"].mean())
