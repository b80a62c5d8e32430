"""Saving and loading: local folders, a real Hugging Face cache layout offline, strictness, corruption."""

import json
from pathlib import Path

import pytest
import torch
from flow_helpers import trained_looking_flow
from hub_helpers import build_hub_cache, run_offline

from noiseaug import NoiseCondition
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.hub import load_pretrained, push_to_hub, save_pretrained

CAMERAS, ISOS = ["cam-a", "cam-b"], [100, 800]


def _trained_looking_flow(seed=0):
    return trained_looking_flow(CAMERAS, ISOS, seed)


def _probe():
    gen = torch.Generator().manual_seed(5)
    clean = torch.rand(2, 4, 8, 8, generator=gen)
    noisy = clean + 0.02 * torch.randn(clean.shape, generator=gen)
    return noisy, clean, NoiseCondition(iso=torch.tensor([100.0, 800.0]), camera=torch.tensor([1, 0]))


def test_local_folder_round_trip_is_exact(tmp_path):
    flow = _trained_looking_flow()
    save_pretrained(flow, tmp_path / "m", card="# card\n")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = NoiseFlow.from_pretrained(tmp_path / "m")
    assert not loaded.training
    torch.testing.assert_close(loaded.nll(*_probe()), flow.nll(*_probe()), rtol=0, atol=0)
    assert json.loads((tmp_path / "m" / "config.json").read_text())["cameras"] == CAMERAS


def test_missing_and_unexpected_tensors_are_errors_naming_the_file(tmp_path):
    from safetensors.torch import load_file, save_file

    save_pretrained(_trained_looking_flow(), tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    state.pop("layers.0.log_beta1")
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(weights))
    with pytest.raises(
        ValueError,
        match=r"model.safetensors does not match.*missing tensors \['layers.0.log_beta1'\].*unexpected tensors \['extra.weight'\]",
    ):
        load_pretrained(tmp_path)


def test_config_that_does_not_match_the_weights_is_an_error(tmp_path):
    save_pretrained(_trained_looking_flow(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["hidden"] = 7
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not match the architecture"):
        load_pretrained(tmp_path)
    config["model_type"] = "no-such-model"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown model_type 'no-such-model'"):
        load_pretrained(tmp_path)
    config.update(model_type="noiseflow", variant="bogus")
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config does not describe a valid noiseflow model"):
        load_pretrained(tmp_path)


def test_truncated_weights_are_an_error_naming_the_file(tmp_path):
    save_pretrained(_trained_looking_flow(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"model.safetensors is not a readable safetensors file"):
        load_pretrained(tmp_path)


def test_missing_files_and_unresolvable_names(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        load_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not a Hugging Face repo id"):
        load_pretrained("no-such-model-name")


def test_hub_repo_id_loads_from_a_real_cache_offline_with_revision_pinning(tmp_path):
    old, new = _trained_looking_flow(seed=1), _trained_looking_flow(seed=2)
    save_pretrained(old, tmp_path / "old")
    save_pretrained(new, tmp_path / "new")
    commit_old, commit_new = "a" * 40, "b" * 40
    cache = tmp_path / "hub"
    build_hub_cache(
        cache, "someone/tiny-noiseflow", {commit_old: tmp_path / "old", commit_new: tmp_path / "new"}, main=commit_new
    )
    noisy, clean, cond = _probe()
    torch.save({"noisy": noisy, "clean": clean, "iso": cond.iso, "camera": cond.camera}, tmp_path / "probe.pt")
    result = run_offline(
        cache,
        f"""
        import torch
        from noiseaug import NoiseCondition
        from noiseaug.flows.noise_flow import NoiseFlow
        probe = torch.load({str(tmp_path / "probe.pt")!r})
        cond = NoiseCondition(iso=probe["iso"], camera=probe["camera"])
        for revision in (None, {commit_old!r}):
            flow = NoiseFlow.from_pretrained("someone/tiny-noiseflow", revision=revision)
            print(revision, flow.nll(probe["noisy"], probe["clean"], cond).tolist())
    """,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"None {new.nll(noisy, clean, cond).tolist()}"
    assert lines[1] == f"{commit_old} {old.nll(noisy, clean, cond).tolist()}"


def test_offline_cache_miss_is_a_clear_error_naming_the_repo(tmp_path):
    result = run_offline(
        tmp_path / "empty-cache",
        """
        from noiseaug.hub import load_pretrained
        try:
            load_pretrained("someone/not-cached")
        except FileNotFoundError as error:
            print("ERROR:", error)
    """,
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR: Hugging Face repo 'someone/not-cached' (revision main) is not in the local cache" in result.stdout


def test_push_to_hub_uploads_the_saved_folder(monkeypatch):
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private, exist_ok):
            calls["repo"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            calls["config"] = json.loads((Path(folder_path) / "config.json").read_text())
            return f"https://hub/{repo_id}/commit/1"

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_to_hub(_trained_looking_flow(), "me/my-flow", card="# my flow", token="t")
    assert url == "https://hub/me/my-flow/commit/1"
    assert calls["repo"] == ("me/my-flow", False, True) and calls["token"] == "t"
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]
    assert calls["config"]["model_type"] == "noiseflow"
