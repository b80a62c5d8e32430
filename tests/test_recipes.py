"""Recipes: the CLI generated from their configs, the seed streams of the driver, the registry."""

import argparse
import dataclasses
import re
import zlib
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

import pytest
import torch

from noiseaug._seeds import mix_seeds
from noiseaug.cli import build_parser
from noiseaug.data.batches import SynthesizedPairs
from noiseaug.denoisers import DnCNN
from noiseaug.errors import NoiseaugInputError, NoiseaugTypeError
from noiseaug.imageio import write_png
from noiseaug.recipes import (
    RECIPES,
    DnCNNConfig,
    NoiseFlowConfig,
    RunContext,
    dncnn,
    noiseflow,
    run_recipe,
    stream_seed,
)
from noiseaug.recipes.dncnn import noise_source
from noiseaug.recipes.flags import _base_type, config_from_arguments, field_default, literal_choices
from noiseaug.training.loop import seeded

ROOT = Path(__file__).resolve().parents[1]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["train"]
    return next(a for a in train._subparsers._group_actions if a.dest == "model").choices[name]


def test_every_recipe_is_a_train_command():
    train = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command").choices["train"]
    models = next(a for a in train._subparsers._group_actions if a.dest == "model").choices
    assert list(models) == list(RECIPES)


@pytest.mark.parametrize("name", list(RECIPES))
def test_help_lists_every_config_field_with_its_default(name):
    text = " ".join(_subparser(name).format_help().split())
    assert "--out OUT" in text and "--no-resume" in text
    for field in dataclasses.fields(RECIPES[name].config):
        flag = "--" + field.name.replace("_", "-")
        assert flag in text, flag
        default = field_default(field)
        if default is not dataclasses.MISSING and default is not None and default is not False:
            assert f"(default: {default})" in text, (flag, default)


def _other_value(hint, default):
    """A valid value other than ``default`` for a field of type ``hint``, and its command-line text."""
    hint = _base_type(hint)
    if hint is bool:
        return True, None
    if get_origin(hint) is Literal:
        value = next(c for c in reversed(get_args(hint)) if c != default)
        return value, value
    if hint is int:
        value = (default or 4) + 3
        return value, str(value)
    if hint is float:
        value = (default or 0.5) * 0.5
        return value, repr(value)
    return "other", "other"


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_flag_round_trips_into_the_config(name):
    config = RECIPES[name].config
    hints = get_type_hints(config)
    argv, expected = ["train", name, "--out", "run"], {}
    for field in dataclasses.fields(config):
        default = field_default(field)
        if field.name == "residual" and name != "n2nflow":
            continue  # only n2nflow takes another residual (a boundary error otherwise, tested elsewhere)
        if name == "dncnn" and field.name == "val_images":
            continue  # --val-on-training (set below) replaces it: both at once are refused, tested elsewhere
        if name == "dncnn" and field.name == "val_on_real_pairs":
            continue  # refused beside --images and --val-on-training (set here), tested elsewhere
        value, text = _other_value(hints[field.name], None if default is dataclasses.MISSING else default)
        if name == "dncnn" and field.name == "noise":
            value, text = "naflow-phone", "naflow-phone"  # another --flow applies to the naflow* sources only
        expected[field.name] = value
        argv += ["--" + field.name.replace("_", "-")] + ([text] if text is not None else [])
    args = build_parser().parse_args(argv)
    made = config_from_arguments(config, args)
    assert {k: getattr(made, k) for k in expected} == expected
    assert {f.name: getattr(made, f.name) for f in dataclasses.fields(config)} == {
        **dataclasses.asdict(config(**({"noise": "awgn"} if name == "dncnn" else {}))),
        **expected,
    }


def _documented_train_commands():
    """Every ``noiseaug train ...`` command quoted in the weight cards, docs, README and benchmarks."""
    commands = set()
    files = [
        *ROOT.glob("weights/*/README.md"),
        *ROOT.glob("docs/**/*.md"),
        ROOT / "README.md",
        *ROOT.glob("benchmarks/*.py"),
    ]
    for path in files:
        for line in path.read_text().splitlines():
            if any(mark in line for mark in ("{", "...", "<", "NAME")):
                continue  # a template (a benchmark's f-string, an elided option), not a command to run
            for match in re.finditer(r"noiseaug train ([a-z0-9-]+(?: +--?[a-z0-9-]+(?: +[^\s`|\\{}#]+)?)*)", line):
                command = match.group(1)
                if command.split()[0] in RECIPES:
                    commands.add(" ".join(command.split()))
    return sorted(commands)


def test_documented_train_commands_still_parse():
    commands = _documented_train_commands()
    assert len(commands) > 15 and any("--patch 128 --steps 2400" in c for c in commands)
    for command in commands:
        argv = ["train", *command.split()]
        if "--out" not in argv:
            argv += ["--out", "run"]
        if argv[1] == "dncnn" and "--noise" not in argv:
            argv += ["--noise", "awgn"]
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as error:
            raise AssertionError(f"documented command no longer parses: noiseaug train {command}") from error
        assert args.model == argv[1], command


def test_stream_seeds_are_mix_seeds_of_seed_rank_and_the_streams_crc32():
    assert stream_seed(5, 1, "train") == mix_seeds(5, 1, zlib.crc32(b"train"))
    seeds = {stream_seed(s, r, n) for s in (0, 1) for r in (0, 1) for n in ("train", "validation", "init")}
    assert len(seeds) == 12


def _images(folder, n=3, size=40):
    for i in range(n):
        write_png(folder / f"img{i}.png", torch.rand(3, size, size, generator=torch.Generator().manual_seed(i)))
    return str(folder)


def test_batches_and_initialisation_come_from_the_named_streams(tmp_path):
    images = _images(tmp_path / "images")
    config = DnCNNConfig(
        noise="awgn", images=images, val_images=images, batch=2, patch=16, depth=3, width=4, val_crops=2, seed=7
    )

    def stage(rank):
        return next(dncnn.build(config, RunContext(config.seed, rank, 2, tmp_path / "run")))

    rank0, again, rank1 = stage(0), stage(0), stage(1)
    assert torch.equal(rank0.batches.batch(3).noisy, again.batches.batch(3).noisy)  # the same config, the same batches
    assert not torch.equal(rank0.batches.batch(3).noisy, rank1.batches.batch(3).noisy)  # another rank, another stream
    expected = SynthesizedPairs(_read(images), noise_source("awgn"), 16, 2, seed=stream_seed(7, 1, "train")).batch(3)
    assert torch.equal(rank1.batches.batch(3).noisy, expected.noisy)
    validation = SynthesizedPairs(_read(images), noise_source("awgn"), 16, 2, seed=stream_seed(7, 0, "validation"))
    assert not torch.equal(validation.batch(0).noisy, rank0.batches.batch(0).noisy)  # distinct streams, distinct data
    with seeded(stream_seed(7, 0, "init")):
        net = DnCNN(channels=3, depth=3, width=4)
    for rank_stage in (rank0, rank1):  # every rank initialises from rank 0's "init" stream
        assert all(
            torch.equal(a, b)
            for a, b in zip(
                net.state_dict().values(), rank_stage.exports["denoiser"].state_dict().values(), strict=True
            )
        )


def _read(folder):
    from noiseaug.data.simulated_pairs import read_image_folder

    return list(read_image_folder(folder).values())


def test_another_seed_gives_other_noiseflow_batches_and_the_same_seed_the_same(tmp_path):
    images = _images(tmp_path / "images")

    def first_batch(seed):
        config = NoiseFlowConfig(images=images, batch=2, patch=8, val_batches=1, seed=seed)
        return next(noiseflow.build(config, RunContext(seed, 0, 1, tmp_path / "run"))).batches.batch(0).noisy_raw[0]

    assert torch.equal(first_batch(0), first_batch(0)) and not torch.equal(first_batch(0), first_batch(1))


def test_recipes_hold_no_hand_made_seed_offsets():
    sources = [*ROOT.glob("noiseaug/recipes/*.py"), ROOT / "noiseaug/data/shots.py", ROOT / "noiseaug/data/batches.py"]
    for path in sources:
        assert not re.search(r"seed\s*[+*]\s*\d|\d\s*\*\s*rank|seed\s*\+\s*rank", path.read_text()), path


def test_run_recipe_refuses_what_is_not_a_recipe_config(tmp_path):
    with pytest.raises(NoiseaugTypeError, match="config must be one of the recipe configs"):
        run_recipe({"noise": "awgn"}, tmp_path / "run")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_literal_field_refuses_other_values_naming_the_field(name):
    """RecipeConfig checks every ``Literal[...]`` field (what the CLI's ``choices`` check) for Python callers too."""
    config = RECIPES[name].config
    required = {"noise": "awgn"} if name == "dncnn" else {}
    literals = literal_choices(config)
    assert literals, f"{name} has no Literal field to check"
    for field_name, choices in literals.items():
        with pytest.raises(NoiseaugInputError, match=rf"^{field_name} must be one of \[.*\], got 'bogus'$"):
            config(**{**required, field_name: "bogus"})
        assert all(isinstance(config(**{**required, field_name: value}), config) for value in choices[:1])


def test_literal_choices_are_the_tables_they_index():
    from noiseaug.objectives.noise2noise_flow import RESIDUALS
    from noiseaug.recipes.clean_free import CLEAN_FREE_DENOISERS, CleanFreeConfig

    literals = literal_choices(CleanFreeConfig)
    assert literals["residual"] == RESIDUALS and set(literals["denoiser"]) == set(CLEAN_FREE_DENOISERS)
