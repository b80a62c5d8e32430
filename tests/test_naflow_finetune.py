"""Fine-tuning NAFlow from trained weights (``noiseaug train naflow --init``)."""

import json

import pytest
import torch
from flow_helpers import trained_looking
from pair_helpers import write_dslr_training_data

from noiseaug import NAFlow
from noiseaug.errors import NoiseaugInputError
from noiseaug.hub import save_pretrained
from noiseaug.recipes import run_recipe
from noiseaug.recipes.naflow import NAFlowConfig, start_from

ARCHITECTURE = {"levels": 1, "blocks": 1, "hidden": 8, "features": 4}


def _flow(configurations, seed, **kwargs):
    """A small NAFlow whose every parameter (latents included) is off its initial value, ActNorms initialised."""
    return trained_looking(NAFlow, configurations, seed=seed, **{**ARCHITECTURE, **kwargs}).train()


def test_start_from_copies_the_flow_and_the_shared_configurations_latents():
    source = _flow(["a-iso100", "b-iso800"], seed=0)
    model = _flow(["b-iso800", "c-iso3200"], seed=1)
    fresh_c = (model.means[1].clone(), model.log_stds[1].clone())

    new = start_from(model, source, "source")

    assert new == ["c-iso3200"]
    theirs = source.state_dict()
    for key, value in model.state_dict().items():
        if key not in ("means", "log_stds"):
            assert torch.equal(value, theirs[key]), key
    assert torch.equal(model.means[0], source.means[1]) and torch.equal(model.log_stds[0], source.log_stds[1])
    assert torch.equal(model.means[1], fresh_c[0]) and torch.equal(model.log_stds[1], fresh_c[1])


def test_start_from_refuses_another_architecture_naming_init_and_the_field():
    source = _flow(["a-iso100"], seed=0, hidden=16)
    with pytest.raises(NoiseaugInputError, match=r"init 'source'.*hidden=16 \(flags: 8\)"):
        start_from(_flow(["a-iso100"], seed=1), source, "source")


def test_train_naflow_init_starts_from_the_given_folder(tmp_path):
    data = tmp_path / "data"
    write_dslr_training_data(data)
    source = _flow(["canon5d2-iso3200", "other-iso100"], seed=0)
    save_pretrained(source, tmp_path / "source")
    config = NAFlowConfig(
        data=str(data), sources="polyu,cc15", steps=1, batch=2, patch=16, lr=1e-9, val_crops=2, val_every=1,
        init=str(tmp_path / "source"), **ARCHITECTURE,
    )  # fmt: skip

    model = run_recipe(config, tmp_path / "run", progress=False)["model"]

    assert isinstance(model, NAFlow) and "canon5d2-iso3200" in model.configurations
    shared = model.configurations.index("canon5d2-iso3200")
    torch.testing.assert_close(model.means[shared], source.means[0], rtol=0, atol=1e-6)
    theirs = source.state_dict()
    for key, value in model.state_dict().items():
        if key not in ("means", "log_stds"):
            torch.testing.assert_close(value, theirs[key], rtol=0, atol=1e-6, msg=key)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["options"]["init"] == str(tmp_path / "source")
