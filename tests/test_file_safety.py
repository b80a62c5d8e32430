"""No command destroys a user's file or mixes two runs: outputs never replace inputs, writes are atomic,
``--resume`` is exact, ``run.json`` guards resumed training, damaged checkpoints are named, bugs keep their traceback.

The property tests draw folder layouts (missing / existing / same / nested output folders, symlinks, empty
folders, read-only folders, unreadable files) and check that no input byte changes and no partial output is left.
Tests run as root cannot make a file unreadable or a folder read-only with chmod: those cases are skipped then.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noiseaug.atomic import TEMP_PREFIX, atomic_write_text
from noiseaug.cli import main
from noiseaug.denoisers import DnCNN
from noiseaug.errors import NoiseaugFileNotFoundError, NoiseaugInputError, NoiseaugTypeError
from noiseaug.hub import save_pretrained
from noiseaug.imageio import read_image, write_png
from noiseaug.outputs import plan_outputs
from noiseaug.training.checkpoint import load_training_checkpoint
from noiseaug.training.run_record import ALLOWED_ON_RESUME, RUN_RECORD


def _chmod_blocks() -> bool:
    """Whether chmod can stop this process reading a file (not as root)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"x")
        probe.chmod(0)
        try:
            probe.read_bytes()
        except PermissionError:
            return True
        finally:
            probe.chmod(0o600)
    return False


CHMOD_BLOCKS = _chmod_blocks()
NEEDS_CHMOD = pytest.mark.skipif(
    not CHMOD_BLOCKS,
    reason="running as root (or similar): chmod does not stop reads "
    "or writes, so unreadable files and read-only folders cannot be made",
)
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _png(path: Path, seed: int, size: int = 12) -> Path:
    return write_png(path, torch.rand(3, size, size + 2, generator=torch.Generator().manual_seed(seed)))


def _images(folder: Path, n: int = 2, jpg: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        path = _png(folder / f"img{k}.png", seed=k)
        if jpg and k == 0:  # one JPEG source (its output name cannot collide with it)
            shutil.copy(path, folder / "img0.jpg")
            path.unlink()
    return folder


def _snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file under ``root`` (symlinks as their target), keyed by relative path."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file() and os.access(path, os.R_OK):
            found[key] = path.read_bytes()
    return found


def _assert_no_partial_outputs(root: Path, before: dict[str, bytes | str]) -> None:
    """No temporary file or folder left; every new or changed PNG decodes and every such JSON parses."""
    leftovers = [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX) or p.suffix == ".tmp"]
    assert not leftovers, leftovers
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file() or not os.access(path, os.R_OK):
            continue
        if before.get(str(path.relative_to(root))) == path.read_bytes():
            continue  # a file of the user's, untouched
        if path.suffix == ".png":
            read_image(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit:
        status = exit.code
    return status, capsys.readouterr().err


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = DnCNN(depth=3, width=4).eval()
    torch.nn.init.normal_(model.body[-1].weight, std=0.01)
    return save_pretrained(model, tmp_path_factory.mktemp("model") / "dncnn")


# -- errors ---------------------------------------------------------------------------------------------------


def test_boundary_errors_share_a_base_class_and_keep_their_builtin_kinds():
    from noiseaug._validation import check_int

    with pytest.raises(NoiseaugTypeError) as info:
        check_int(2.0, "steps")
    assert isinstance(info.value, TypeError) and isinstance(info.value, NoiseaugInputError)
    with pytest.raises(NoiseaugInputError) as info:
        check_int(0, "steps")
    assert isinstance(info.value, ValueError)
    with pytest.raises(NoiseaugFileNotFoundError):
        read_image("/nonexistent/x.png")


def test_cli_prints_one_line_for_bad_input_but_the_traceback_for_a_bug(tmp_path, monkeypatch, capsys):
    import noiseaug.synthesize as synthesize

    _images(tmp_path / "in", n=1)
    argv = ["synthesize", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", "awgn"]

    def bug(*args, **kwargs):
        raise ValueError("a bug deep inside")  # a plain ValueError: not one of noiseaug's checks

    monkeypatch.setattr(synthesize, "synthesize_folder", bug)
    with pytest.raises(ValueError, match="a bug deep inside"):
        main(argv)
    assert "this is a bug in noiseaug" in capsys.readouterr().err

    def bad_input(*args, **kwargs):
        raise NoiseaugInputError("sigma must be\n  finite")

    monkeypatch.setattr(synthesize, "synthesize_folder", bad_input)
    assert _run(argv, capsys) == (2, "noiseaug synthesize: error: sigma must be finite\n")
    monkeypatch.setenv("NOISEAUG_TRACEBACK", "1")
    with pytest.raises(NoiseaugInputError):
        main(argv)


def test_a_bug_in_a_real_process_exits_1_with_its_traceback(tmp_path):
    _images(tmp_path / "in", n=1)
    script = textwrap.dedent(f"""
        import sys
        import noiseaug.synthesize as s
        from noiseaug.cli import main
        def bug(*args, **kwargs):
            raise TypeError("unexpected keyword in a deep call")
        s.synthesize_folder = bug
        sys.exit(main(["synthesize", {str(tmp_path / "in")!r}, "--out", {str(tmp_path / "out")!r}, "--model", "awgn"]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "TypeError: unexpected keyword in a deep call" in result.stderr
    assert "this is a bug in noiseaug" in result.stderr


# -- outputs never replace inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        lambda d, m: ["denoise", str(d / "in" / "img0.png"), str(d / "in" / "img0.png"), "--model", m],
        lambda d, m: ["denoise", str(d / "in" / "img0.png"), str(d / "in" / "sub" / ".." / "img0.png"), "--model", m],
        lambda d, m: ["denoise", str(d / "in" / "img0.png"), str(d / "in"), "--model", m],
        lambda d, m: ["denoise", str(d / "in"), str(d / "in"), "--model", m, "--overwrite"],
        lambda d, m: ["denoise", str(d / "in"), str(d / "link"), "--model", m, "--overwrite"],
        lambda d, m: ["denoise", str(d / "filelink.png"), str(d / "in" / "img0.png"), "--model", m, "--overwrite"],
        lambda d, m: ["synthesize", str(d / "in"), "--out", str(d / "in"), "--model", "awgn", "--overwrite"],
        lambda d, m: ["synthesize", str(d / "in"), "--out", str(d / "link"), "--model", "awgn", "--resume"],
    ],
    ids=[
        "denoise-same-file",
        "denoise-dotdot",
        "denoise-into-own-folder",
        "denoise-same-folder",
        "denoise-symlinked-folder",
        "denoise-symlinked-source",
        "synthesize-same-folder",
        "synthesize-symlinked-folder",
    ],
)
def test_an_output_that_is_an_input_is_refused_whatever_the_options(tmp_path, denoiser, capsys, argv):
    _images(tmp_path / "in", n=2)
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "in")
    (tmp_path / "filelink.png").symlink_to(tmp_path / "in" / "img0.png")
    before = _snapshot(tmp_path)
    status, err = _run(argv(tmp_path, str(denoiser)), capsys)
    assert status == 2 and "would overwrite the input" in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(tmp_path) == before


def test_a_hard_link_to_an_input_is_refused(tmp_path):
    source = _png(tmp_path / "a.png", 0)
    os.link(source, tmp_path / "b.png")
    with pytest.raises(NoiseaugInputError, match="would overwrite the input"):
        plan_outputs([source], [tmp_path / "b.png"], overwrite=True)


def test_existing_outputs_need_overwrite_or_resume(tmp_path, denoiser, capsys):
    _images(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert _run(["denoise", str(tmp_path / "in"), str(out), "--model", str(denoiser)], capsys)[0] == 0
    first = _snapshot(out)
    status, err = _run(["denoise", str(tmp_path / "in"), str(out), "--model", str(denoiser)], capsys)
    assert status == 2 and "2 output file(s) exist already" in err and "--overwrite" in err and "--resume" in err
    assert _snapshot(out) == first
    (out / "img1.png").write_bytes(b"the user's own file")
    assert _run(["denoise", str(tmp_path / "in"), str(out), "--model", str(denoiser), "--resume"], capsys)[0] == 0
    assert (out / "img1.png").read_bytes() == b"the user's own file"  # kept
    assert _run(["denoise", str(tmp_path / "in"), str(out), "--model", str(denoiser), "--overwrite"], capsys)[0] == 0
    assert _snapshot(out) == first  # replaced by the same bytes
    status, err = _run(
        ["denoise", str(tmp_path / "in"), str(out), "--model", str(denoiser), "--overwrite", "--resume"], capsys
    )
    assert status == 2 and "not allowed with argument" in err


def test_synthesize_into_a_subfolder_of_its_input_works_and_leaves_the_input_alone(tmp_path, capsys):
    _images(tmp_path / "in", n=2)
    before = _snapshot(tmp_path / "in")
    status, _ = _run(
        ["synthesize", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "noisy"), "--model", "awgn"], capsys
    )
    assert status == 0
    after = _snapshot(tmp_path / "in")
    assert {k: v for k, v in after.items() if not k.startswith("noisy")} == before
    assert sorted(p.name for p in (tmp_path / "in" / "noisy").iterdir()) == ["img0.png", "img1.png", "metadata.json"]


def test_synthesize_resume_gives_the_bytes_of_an_uninterrupted_run(tmp_path, capsys):
    _images(tmp_path / "in", n=3)
    base = ["synthesize", str(tmp_path / "in"), "--model", "nlf", "--seed", "5"]
    assert _run([*base, "--out", str(tmp_path / "whole")], capsys)[0] == 0
    assert _run([*base, "--out", str(tmp_path / "cut")], capsys)[0] == 0
    # the state an interrupted run leaves: some outputs, metadata.json from the start
    (tmp_path / "cut" / "img1.png").unlink()
    start = json.loads((tmp_path / "cut" / "metadata.json").read_text())
    atomic_write_text(tmp_path / "cut" / "metadata.json", json.dumps({**start, "complete": False, "files": {}}))
    kept = (tmp_path / "cut" / "img0.png").stat()
    assert _run([*base, "--out", str(tmp_path / "cut"), "--resume"], capsys)[0] == 0
    assert (tmp_path / "cut" / "img0.png").stat().st_ino == kept.st_ino  # not rewritten
    assert _snapshot(tmp_path / "cut") == _snapshot(tmp_path / "whole")
    # resuming with other settings would mix two runs
    status, err = _run([*base[:-1], "6", "--out", str(tmp_path / "cut"), "--resume"], capsys)
    assert status == 2 and "is from another run (seed 5 -> 6)" in err
    assert _snapshot(tmp_path / "cut") == _snapshot(tmp_path / "whole")


def test_an_interrupted_png_write_leaves_the_previous_file(tmp_path, monkeypatch):
    import noiseaug.imageio as imageio

    path = _png(tmp_path / "a.png", 0)
    before = path.read_bytes()

    def dies_half_way(tmp, pixels):
        Path(tmp).write_bytes(before[: len(before) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(imageio, "_kornia_write", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        _png(path, 1)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


@NEEDS_CHMOD
def test_unreadable_input_and_read_only_output_folder_are_one_line_errors(tmp_path, denoiser, capsys):
    _images(tmp_path / "in", n=2)
    (tmp_path / "in" / "img1.png").chmod(0)
    try:
        status, err = _run(["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(denoiser)], capsys)
        assert status == 2 and "cannot read the input" in err and not (tmp_path / "out").exists()
    finally:
        (tmp_path / "in" / "img1.png").chmod(0o644)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        status, err = _run(["denoise", str(tmp_path / "in"), str(tmp_path / "ro"), "--model", str(denoiser)], capsys)
        assert status == 2 and "cannot write" in err and list((tmp_path / "ro").iterdir()) == []
    finally:
        (tmp_path / "ro").chmod(0o755)


# -- property tests: random layouts never lose an input byte or leave a partial output ------------------------

OUT_LAYOUTS = [
    "new",
    "nested-new",
    "same",
    "inside-input",
    "existing-with-user-file",
    "symlink-to-input",
    "symlink-to-elsewhere",
    "input-parent",
]
FLAGS = [[], ["--overwrite"], ["--resume"]]


def _layout(
    root: Path, out_layout: str, n_images: int, jpg: bool, unreadable: bool, read_only: bool
) -> tuple[Path, Path]:
    """An input folder and an output folder under ``root`` as the drawn layout says."""
    images = _images(root / "in", n=n_images, jpg=jpg)
    if unreadable and n_images:
        next(images.iterdir()).chmod(0)
    out = {
        "new": root / "out",
        "nested-new": root / "a" / "b" / "out",
        "same": images,
        "inside-input": images / "out",
        "existing-with-user-file": root / "out",
        "symlink-to-input": root / "link",
        "symlink-to-elsewhere": root / "link",
        "input-parent": root,
    }[out_layout]
    if out_layout == "existing-with-user-file":
        out.mkdir()
        (out / "img0.png").write_bytes(b"user data, not a PNG")
        (out / "notes.txt").write_text("keep me")
    elif out_layout == "symlink-to-input":
        out.symlink_to(images)
    elif out_layout == "symlink-to-elsewhere":
        (root / "elsewhere").mkdir()
        out.symlink_to(root / "elsewhere")
    if read_only and out.is_dir():
        out.chmod(0o555)
    return images, out


def _check_safe(root: Path, before: dict, status: int, err: str, flags: list[str], out: Path) -> None:
    assert status in (0, 2), err  # a bug would raise (exit 1)
    if status == 2:
        assert len([line for line in err.splitlines() if line.startswith("noiseaug ")]) >= 1, err
    after = _snapshot(root)
    for key, content in before.items():
        replaceable = (
            "--overwrite" in flags
            and (root / key).parent.resolve() == out.resolve()
            and (key.endswith(".png") or key.endswith("metadata.json"))
        )
        inputs = (root / key).resolve().parent == (root / "in").resolve()
        if inputs or not replaceable:
            assert after.get(key) == content, f"{key} changed ({status}: {err})"
    _assert_no_partial_outputs(root, before)


def _restore_permissions(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


@SETTINGS
@given(
    out_layout=st.sampled_from(OUT_LAYOUTS),
    n_images=st.integers(0, 2),
    jpg=st.booleans(),
    unreadable=st.booleans() if CHMOD_BLOCKS else st.just(False),
    read_only=st.booleans() if CHMOD_BLOCKS else st.just(False),
    flags=st.sampled_from(FLAGS),
    command=st.sampled_from(["synthesize", "denoise"]),
)
def test_synthesize_and_denoise_never_lose_an_input_byte(
    denoiser, capsys, out_layout, n_images, jpg, unreadable, read_only, flags, command
):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        images, out = _layout(root, out_layout, n_images, jpg, unreadable, read_only)
        before = _snapshot(root)
        if command == "synthesize":
            argv = ["synthesize", str(images), "--out", str(out), "--model", "awgn", *flags]
        else:
            argv = ["denoise", str(images), str(out), "--model", str(denoiser), *flags]
        try:
            status, err = _run(argv, capsys)
            _check_safe(root, before, status, err, flags, out)
        finally:
            _restore_permissions(root)
        png_sources = n_images > (1 if jpg else 0)
        if out.resolve() == images.resolve() and png_sources:
            assert status == 2 and ("would overwrite the input" in err or unreadable and "cannot read" in err)
        if status == 0:
            assert all((out / f"img{k}.png").is_file() for k in range(n_images))


TRAIN = [
    "train",
    "dncnn",
    "--noise",
    "awgn",
    "--steps",
    "2",
    "--batch",
    "2",
    "--patch",
    "8",
    "--depth",
    "3",
    "--width",
    "4",
    "--val-crops",
    "2",
    "--val-every",
    "1",
]


@settings(SETTINGS, max_examples=8)  # each example trains (twice when drawn): fewer examples
@given(
    out_layout=st.sampled_from(["new", "same", "inside-input", "existing-with-user-file", "symlink-to-input"]),
    n_images=st.sampled_from([0, 2]),
    unreadable=st.booleans() if CHMOD_BLOCKS else st.just(False),
    twice=st.booleans(),
    no_resume=st.booleans(),
)
def test_train_never_loses_an_input_byte(capsys, out_layout, n_images, unreadable, twice, no_resume):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        images, out = _layout(root, out_layout, n_images, False, unreadable, False)
        before = _snapshot(root)
        argv = [*TRAIN, "--images", str(images), "--val-images", str(images), "--out", str(out)]
        try:
            for _ in range(2 if twice else 1):
                status, err = _run([*argv, *(["--no-resume"] if no_resume else [])], capsys)
                _check_safe(root, before, status, err, [], out)
        finally:
            _restore_permissions(root)
        if status == 0:
            assert load_training_checkpoint(out / "last.pt")["state"]["step"] == 2
            assert json.loads((out / RUN_RECORD).read_text())["recipe"] == "dncnn"
        else:
            assert not (out / RUN_RECORD).exists() or (out / "last.pt").exists()


# -- training runs: run.json and damaged checkpoints ----------------------------------------------------------


@pytest.fixture()
def train_run(tmp_path, capsys):
    images = _images(tmp_path / "images", n=2)
    argv = [*TRAIN, "--images", str(images), "--val-images", str(images), "--out", str(tmp_path / "run")]
    assert _run(argv, capsys)[0] == 0
    return argv, tmp_path / "run"


def test_run_json_records_every_option_data_and_versions(train_run):
    argv, run = train_run
    record = json.loads((run / RUN_RECORD).read_text())
    assert record["recipe"] == "dncnn"
    assert record["options"]["noise"] == "awgn" and record["options"]["lr"] == 1e-3  # a default, recorded
    assert record["options"]["images"] == str((run.parent / "images").resolve())
    assert record["data"]["images"]["files"] == 2 and len(record["data"]["images"]["sha256"]) == 64
    assert set(record["versions"]) == {"noiseaug", "torch"} and record["versions"]["torch"] == torch.__version__


def test_resuming_with_other_options_is_refused_listing_each_difference(train_run, capsys):
    argv, run = train_run
    before = _snapshot(run)
    other = [a if a != "awgn" else "nlf" for a in argv] + ["--lr", "0.002"]
    status, err = _run(other, capsys)
    assert status == 2, err
    assert "--noise 'awgn' -> 'nlf'" in err and "--lr 0.001 -> 0.002" in err and "--no-resume" in err
    assert all(f"--{name.replace('_', '-')}" in err for name in ALLOWED_ON_RESUME)
    assert _snapshot(run) == before
    assert _run([*other, "--no-resume"], capsys)[0] == 0
    assert json.loads((run / RUN_RECORD).read_text())["options"]["noise"] == "nlf"


def test_changed_data_is_refused_and_steps_may_change(train_run, capsys):
    argv, run = train_run
    _png(run.parent / "images" / "img9.png", 9)
    status, err = _run(argv, capsys)
    assert status == 2 and "data images" in err and "2 files" in err and "3 files" in err
    (run.parent / "images" / "img9.png").unlink()
    longer = [a if a != "2" or argv[i - 1] != "--steps" else "3" for i, a in enumerate(argv)]
    status, err = _run(longer, capsys)
    assert status == 0, err
    assert load_training_checkpoint(run / "last.pt")["state"]["step"] == 3
    assert json.loads((run / RUN_RECORD).read_text())["resumes"] == [{"changed": ["--steps 2 -> 3"]}]


def test_a_run_without_run_json_resumes_with_a_warning(train_run, capsys):
    argv, run = train_run
    (run / RUN_RECORD).unlink()
    longer = [a if a != "2" or argv[i - 1] != "--steps" else "3" for i, a in enumerate(argv)]
    status, err = _run(longer, capsys)
    assert status == 0 and "warning:" in err and "no run.json" in err
    assert (run / RUN_RECORD).is_file()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign-dict", "other-architecture"])
def test_a_damaged_last_checkpoint_is_named_and_best_is_offered(train_run, capsys, damage):
    argv, run = train_run
    last = run / "last.pt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    elif damage == "garbage":
        last.write_bytes(b"\x00not a checkpoint" * 50)
    elif damage == "foreign-dict":
        torch.save({"weights": torch.zeros(2)}, last)
    else:  # a checkpoint of another network, in a folder without run.json (an older run)
        (run / RUN_RECORD).unlink()
        argv = [a if a != "3" or argv[i - 1] != "--depth" else "4" for i, a in enumerate(argv)]
        (run / "best.pt").unlink()
    status, err = _run(argv, capsys)
    lines = [line for line in err.splitlines() if line.startswith("noiseaug train: error")]
    assert status == 2 and len(lines) == 1 and str(last) in lines[0], err
    if damage != "other-architecture":
        assert f"{run / 'best.pt'} is a valid checkpoint (step" in lines[0]
    assert "--no-resume" in lines[0]


KILLED_RUN = """
import io, os, sys, time
import torch
from noiseaug.cli import main

real_save, calls = torch.save, [0]

def save(obj, f, *args, **kwargs):  # the 4th checkpoint write stops half way (and waits to be killed)
    calls[0] += 1
    if calls[0] < 4:
        return real_save(obj, f, *args, **kwargs)
    buffer = io.BytesIO()
    real_save(obj, buffer)
    with open(f, "wb") as handle:
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
    open(sys.argv[1], "w").close()
    time.sleep(600)

torch.save = save
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    images = _images(tmp_path / "images", n=2)
    argv = [*TRAIN[:5], "4", *TRAIN[6:], "--images", str(images), "--val-images", str(images)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: bit-identical runs
    reference = subprocess.run(
        [sys.executable, "-m", "noiseaug", *argv, "--out", str(tmp_path / "reference")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    marker, run = tmp_path / "writing", tmp_path / "killed"
    victim = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(marker), *argv, "--out", str(run)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 600
    while not marker.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), victim.stderr.read()[-2000:]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert load_training_checkpoint(run / "last.pt")["state"]["step"] in (1, 2)  # the previous one, whole
    assert load_training_checkpoint(run / "best.pt")["state"]["step"] in (1, 2)
    partial = list(run.glob(f"{TEMP_PREFIX}*/*.pt"))
    assert len(partial) == 1  # killed while writing: the half-written file is in the temporary folder
    with pytest.raises(NoiseaugInputError, match="truncated or corrupted"):
        load_training_checkpoint(partial[0])
    resumed = subprocess.run(
        [sys.executable, "-m", "noiseaug", *argv, "--out", str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = load_training_checkpoint(tmp_path / "reference" / "last.pt")["model"]
    actual = load_training_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(expected[k], actual[k]) for k in expected)  # same weights as the uninterrupted run
