"""The authors' SIDD-trained Noise Flow (TF1) and Noise2NoiseFlow (.pth) weights, converted and checked against
the outputs of the authors' own code (golden.npz), and the converters' errors on damaged or foreign files.

The official files are read from ``$NOISEAUG_OFFICIAL``, else ``../shared/official`` beside the repository; the
tests skip (saying so) only where that folder is absent. Conversions go to temporary folders.
"""

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tfbundle_helpers import write_bundle

from noiseaug import DnCNN, NoiseCondition, NoiseFlow, NoiseFlowTransform
from noiseaug.cli import main
from noiseaug.convert import (
    CheckpointError,
    convert_n2nflow_pth,
    convert_noiseflow_tf,
    load_n2nflow_state,
    n2nflow_from_state_dict,
)
from noiseaug.tfbundle import read_checkpoint, read_index

ROOT = Path(os.environ.get("NOISEAUG_OFFICIAL") or Path(__file__).resolve().parents[1] / ".." / "shared" / "official")
NF_PREFIX = ROOT / "noiseflow-sidd" / "model.ckpt.best"
N2N_PTH = ROOT / "noise2noiseflow-sidd" / "epoch_160_nf_model_net.pth"
#: the authors' packed order (0,0),(0,1),(1,1),(1,0) <-> noiseaug's (0,0),(0,1),(1,0),(1,1)
PERM = [0, 1, 3, 2]

needs_official = pytest.mark.skipif(
    not (NF_PREFIX.with_name("model.ckpt.best.index").is_file() and N2N_PTH.is_file()),
    reason=f"the official SIDD weights are not at {ROOT} (set NOISEAUG_OFFICIAL to the folder holding "
    f"noiseflow-sidd/ and noise2noiseflow-sidd/)",
)
pytestmark = needs_official


@pytest.fixture(scope="module")
def nf_dir(tmp_path_factory):
    return convert_noiseflow_tf(NF_PREFIX, tmp_path_factory.mktemp("official") / "noiseflow-sidd")


@pytest.fixture(scope="module")
def n2n_dir(tmp_path_factory):
    return convert_n2nflow_pth(N2N_PTH, tmp_path_factory.mktemp("official") / "n2nflow-sidd")


def golden(name):
    g = np.load(ROOT / name / "golden.npz")
    return {k: g[k] for k in g.files}


def inputs(g):
    """The golden inputs in noiseaug's channel order."""
    clean = torch.from_numpy(g["clean"])[:, PERM]
    noise = torch.from_numpy(g["noise"])[:, PERM]
    cond = NoiseCondition(iso=torch.from_numpy(g["iso"]).float(), camera=torch.from_numpy(g["cam"]))
    return clean, noise, cond, torch.from_numpy(g["z"])


def layer_logdets(flow, noise, fc):
    """Each layer's log-det ``(B, layers)``, the layers run one by one on the weights' channel order."""
    out, x = [], noise[:, flow._to_weights]
    fc = type(fc)(clean=fc.clean[:, flow._to_weights], iso=fc.iso, iso_index=fc.iso_index, camera=fc.camera)
    for layer in flow.layers:
        x, ld = layer(x, fc)
        out.append(ld)
    return torch.stack(out, 1).double().numpy()


@pytest.mark.parametrize("name, folder", [("noiseflow-sidd", "nf_dir"), ("noise2noiseflow-sidd", "n2n_dir")])
def test_converted_models_reproduce_the_authors_outputs(request, name, folder):
    flow = NoiseFlow.from_pretrained(request.getfixturevalue(folder))
    g = golden(name)
    clean, noise, cond, z = inputs(g)
    with torch.no_grad():
        loglik = flow.log_prob(clean + noise, clean, cond).double().numpy()  # one call, five cameras and ISOs mixed
        fc = flow.flow_condition(clean, cond)
        inverse = flow.decode(z, fc)[:, PERM].numpy()
        latent, _ = flow.encode(noise, fc)
        logdets = layer_logdets(flow, noise, fc)
    assert np.abs(loglik - g["loglik"]).max() < 0.01  # nats, summed over 4,096 dimensions
    assert np.abs(inverse - g["inverse_noise"]).max() < 1e-5  # latent -> noise
    assert np.abs(latent.numpy() - g["latent_of_noise"]).max() < 5e-4
    assert np.abs(logdets - g["layer_logdet"][:, : len(flow.layers)]).max() < 0.01
    torch.testing.assert_close(
        flow.nll(clean + noise, clean, cond).double(), torch.from_numpy(-g["loglik_per_dim"]), rtol=0, atol=0.01 / 4096
    )


def test_reversed_coupling_networks_are_the_authors_sampling_wrapper(nf_dir):
    """The coupling order matters: swapping the networks of A_k and A_(9-k) (not their rescale factors) gives the
    golden outputs of the authors' sampling wrapper's (port) order, samples about 35x too strong, instead."""
    flow = NoiseFlow.from_pretrained(nf_dir)
    state = {k: v.clone() for k, v in flow.state_dict().items()}
    couplings = [2, 4, 6, 8, 11, 13, 15, 17]
    swapped = dict(state)
    for a, b in zip(couplings, reversed(couplings), strict=True):
        for key in state:
            if key.startswith(f"layers.{a}.") and not key.endswith("rescale"):
                swapped[key] = state[key.replace(f"layers.{a}.", f"layers.{b}.", 1)]
    flow.load_state_dict(swapped)
    g = golden("noiseflow-sidd")
    clean, noise, cond, z = inputs(g)
    with torch.no_grad():
        loglik = flow.log_prob(clean + noise, clean, cond).double().numpy()
        inverse = flow.decode(z, flow.flow_condition(clean, cond))[:, PERM].numpy()
    assert np.abs(loglik - g["loglik_portorder_eval_tfstats"]).max() < 0.05
    reference = g["inverse_noise_portorder_eval_tfstats"]
    assert np.abs(inverse - reference).max() < 1e-5 * np.abs(reference).max()
    ratio = inverse.reshape(8, -1).std(1) / g["inverse_noise"].reshape(8, -1).std(1)
    assert 25 < ratio.min() and ratio.max() < 45


@pytest.mark.parametrize("folder", ["nf_dir", "n2n_dir"])
def test_a_batch_mixing_all_cameras_and_isos_equals_one_sample_per_call(request, folder):
    flow = NoiseFlow.from_pretrained(request.getfixturevalue(folder))
    clean, noise, cond, z = inputs(golden("noiseflow-sidd"))
    with torch.no_grad():
        together = flow.log_prob(clean + noise, clean, cond)
        decoded = flow.decode(z, flow.flow_condition(clean, cond))
        for i in range(len(clean)):
            one, rows = cond.index(torch.tensor([i])), slice(i, i + 1)
            assert abs(float(flow.log_prob(clean[rows] + noise[rows], clean[rows], one)[0] - together[i])) < 1e-3
            alone = flow.decode(z[rows], flow.flow_condition(clean[rows], one))[0]
            # float32 through every layer: a batch of one may take other kernels (9e-6 of the max seen on AVX2)
            assert float((alone - decoded[i]).abs().max()) < 1e-4 * float(decoded[i].abs().max())
    assert sorted(set(cond.camera.tolist())) == [0, 1, 2, 3, 4] and len(set(cond.iso.tolist())) == 5


def test_transform_samples_the_converted_model_with_mixed_conditions(nf_dir):
    transform = NoiseFlowTransform.from_pretrained(nf_dir, clip=False)
    clean, _, cond, _ = inputs(golden("noiseflow-sidd"))
    noisy = transform(clean, cond=cond, generator=torch.Generator().manual_seed(0))
    again = transform.model.sample(clean, cond, torch.Generator().manual_seed(0))
    torch.testing.assert_close(noisy, again)
    std = (noisy - clean).flatten(1).std(1)
    # the golden inverse-noise std: ~0.02 at ISO 100/400, ~0.05 at 800/1600, ~0.086 at ISO 3200 (G4)
    assert 0.015 < float(std[0]) < 0.03 and 0.07 < float(std[4]) < 0.11
    mosaic = transform(
        torch.rand(5, 1, 64, 64, generator=torch.Generator().manual_seed(1)), generator=torch.Generator().manual_seed(2)
    )
    assert mosaic.shape == (5, 1, 64, 64) and bool(torch.isfinite(mosaic).all())


@pytest.mark.parametrize(
    "folder, kind, sha",
    [
        ("nf_dir", "noiseflow-tf", "b4d17f2c55e87ef064e4da7f4721ea99f3de4dcf4c7245ad8506dc0d942a0426"),
        ("n2n_dir", "n2nflow-pth", "29800c70097dc36dd32b7483314ecd4556d41a555822531932788077437f2dd0"),
    ],
)
def test_folder_and_card(request, folder, kind, sha):
    out = request.getfixturevalue(folder)
    card = (out / "README.md").read_text()
    assert sha in card and "CC BY-NC-SA 4.0" in card and f"noiseaug convert {kind}" in card
    assert "byte-identical to the authors' release" in card
    config = json.loads((out / "config.json").read_text())
    assert config["variant"] == "official" and config["cameras"] == ["IP", "GP", "S6", "N6", "G4"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no partial or old folders left


def test_the_denoiser_is_the_authors_dncnn_on_noiseaug_channels(n2n_dir):
    ours = DnCNN.from_pretrained(n2n_dir / "dncnn")
    assert ours.config == {
        "model_type": "dncnn",
        "channels": 4,
        "depth": 9,
        "width": 64,
        "batch_norm": True,
        "residual": True,
    }
    state = {
        k[len("denoiser.dncnn.") :]: v
        for k, v in load_n2nflow_state(N2N_PTH).items()
        if k.startswith("denoiser.dncnn.")
    }
    layers = [torch.nn.Conv2d(4, 64, 3, padding=1), torch.nn.ReLU()]
    for _ in range(7):
        layers += [torch.nn.Conv2d(64, 64, 3, padding=1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(64, 4, 3, padding=1, bias=False))
    reference = torch.nn.Sequential(*layers).eval()
    reference.load_state_dict(state, strict=True)  # the authors' layout, in their channel order
    clean, noise, _, _ = inputs(golden("noise2noiseflow-sidd"))
    noisy = clean + noise
    with torch.no_grad():
        theirs = noisy[:, PERM] - reference(noisy[:, PERM])
        torch.testing.assert_close(ours(noisy), theirs[:, PERM], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ the TF reader
def copy_checkpoint(tmp_path):
    prefix = tmp_path / "model.ckpt.best"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(NF_PREFIX.with_name(NF_PREFIX.name + suffix), prefix.with_name(prefix.name + suffix))
    return prefix


def test_reader_round_trips_a_bundle_written_from_the_format(tmp_path):
    tensors = read_checkpoint(NF_PREFIX)
    assert len(tensors) == 143 and sum(v.size for v in tensors.values()) == 2721
    header, entries = read_index(NF_PREFIX)
    assert header == {"num_shards": 1, "endianness": 0}
    prefix = write_bundle(tmp_path / "again", tensors)
    again = read_checkpoint(prefix)
    assert sorted(again) == sorted(tensors) and all(np.array_equal(again[k], tensors[k]) for k in tensors)
    # the checkpoint prefix, its .index or its .data file name the same checkpoint
    assert sorted(read_checkpoint(str(NF_PREFIX) + ".index")) == sorted(tensors)


def test_index_that_is_not_a_checkpoint(tmp_path):
    prefix = tmp_path / "model.ckpt"
    shutil.copy(ROOT / "noiseflow-sidd" / "golden.npz", tmp_path / "model.ckpt.index")
    with pytest.raises(
        CheckpointError,
        match=r"model\.ckpt\.index is not a TensorFlow checkpoint index: expected an "
        r"SSTable ending in the magic number",
    ):
        convert_noiseflow_tf(prefix, tmp_path / "out")
    with pytest.raises(CheckpointError, match="not found: a TensorFlow checkpoint PREFIX is a pair of files"):
        convert_noiseflow_tf(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_index_and_data(tmp_path):
    prefix = copy_checkpoint(tmp_path)
    index, data = (prefix.with_name(prefix.name + s) for s in (".index", ".data-00000-of-00001"))
    good = data.read_bytes()
    data.write_bytes(good[:-100])
    with pytest.raises(
        CheckpointError,
        match=r"data-00000-of-00001 is truncated: tensor '.+' needs bytes \d+\.\.\d+, "
        r"the file has 10784",
    ):
        convert_noiseflow_tf(prefix, tmp_path / "out")
    data.write_bytes(good)
    index.write_bytes(index.read_bytes()[:-20])
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.best\.index is not a TensorFlow checkpoint index"):
        convert_noiseflow_tf(prefix, tmp_path / "out")


def test_checksum_mismatches(tmp_path):
    prefix = copy_checkpoint(tmp_path)
    index, data = (prefix.with_name(prefix.name + s) for s in (".index", ".data-00000-of-00001"))
    _, entries = read_index(prefix)
    entry = entries["model/sdn_gain/cam_params"]
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x01  # one flipped bit in a weight: finite, so only the checksum can see it
    data.write_bytes(bytes(raw))
    with pytest.raises(
        CheckpointError,
        match=r"data-00000-of-00001: tensor 'model/sdn_gain/cam_params' fails its "
        r"CRC-32C check .* the data file is corrupted",
    ):
        convert_noiseflow_tf(prefix, tmp_path / "out")
    (tmp_path / "second").mkdir()
    prefix = copy_checkpoint(tmp_path / "second")
    index = prefix.with_name(prefix.name + ".index")
    raw = bytearray(index.read_bytes())
    raw[len(raw) // 3] ^= 0x10  # inside the data block of the index
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"\.index: the data block at byte 0 fails its CRC-32C check"):
        convert_noiseflow_tf(prefix, tmp_path / "out")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.pop("model/sdn_gain/gain_val"), r"missing tensors: model/sdn_gain/gain_val"),
        (
            lambda t: t.update({"level0/bijector10/rescaling_scale0": np.float32(0.5)}),
            r"unexpected tensors: level0/bijector10/rescaling_scale0",
        ),
        (
            lambda t: t.update({"model/real_nvp_conv_template/l_1/W": np.zeros((3, 3, 2, 8), np.float32)}),
            r"wrong shapes: model/real_nvp_conv_template/l_1/W: \[3, 3, 2, 8\], expected \[3, 3, 2, 4\]",
        ),
    ],
)
def test_checkpoint_of_another_architecture(tmp_path, change, match):
    tensors = read_checkpoint(NF_PREFIX)
    change(tensors)
    prefix = write_bundle(tmp_path / "other.ckpt", tensors)
    with pytest.raises(
        CheckpointError,
        match=r"other\.ckpt\.index is not the official Noise Flow checkpoint "
        r"\(architecture sdn5\|unc.*" + match,
    ):
        convert_noiseflow_tf(prefix, tmp_path / "out")


def test_optimizer_slots_are_ignored_and_other_hps_refused(tmp_path):
    tensors = read_checkpoint(NF_PREFIX)
    tensors["model/sdn_gain/beta1/Adam"] = np.zeros(1, np.float32)
    tensors["global_step"] = np.array(7, np.int64)
    prefix = write_bundle(tmp_path / "model.ckpt", tensors)
    out = convert_noiseflow_tf(prefix, tmp_path / "out")
    assert "differ from the authors' release" in (out / "README.md").read_text()
    (tmp_path / "hps.txt").write_text("arch,sdn|unc|unc|gain|unc|unc\nwidth,4\n")
    with pytest.raises(CheckpointError, match=r"hps\.txt gives the architecture 'sdn\|unc\|unc\|gain\|unc\|unc'"):
        convert_noiseflow_tf(prefix, tmp_path / "out2")


# ------------------------------------------------------------------------------------------ the .pth reader
def test_pth_that_is_not_a_checkpoint(tmp_path):
    wrong = tmp_path / "epoch_160_nf_model_net.pth"
    shutil.copy(NF_PREFIX.with_name("model.ckpt.best.index"), wrong)
    with pytest.raises(
        CheckpointError,
        match=r"epoch_160_nf_model_net\.pth is not a PyTorch checkpoint loadable with "
        r"weights_only=True",
    ):
        convert_n2nflow_pth(wrong, tmp_path / "out")
    with pytest.raises(CheckpointError, match="not found"):
        convert_n2nflow_pth(tmp_path / "missing.pth", tmp_path / "out")


def test_truncated_pth(tmp_path):
    cut = tmp_path / "cut.pth"
    cut.write_bytes(N2N_PTH.read_bytes()[:1_000_000])
    with pytest.raises(CheckpointError, match=r"cut\.pth is not a PyTorch checkpoint .* truncated file"):
        convert_n2nflow_pth(cut, tmp_path / "out")


def test_pth_checksum_mismatch(tmp_path):
    bad = tmp_path / "bad.pth"
    raw = bytearray(N2N_PTH.read_bytes())
    with zipfile.ZipFile(N2N_PTH) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = np.frombuffer(bytes(raw[info.header_offset + 26 : info.header_offset + 30]), "<u2")
    raw[info.header_offset + 30 + int(name_len) + int(extra_len)] ^= 0x01
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=rf"bad\.pth: member '{info.filename}' fails its CRC-32 check"):
        convert_n2nflow_pth(bad, tmp_path / "out")


def test_pth_of_another_architecture(tmp_path):
    state = load_n2nflow_state(N2N_PTH)
    state.pop("noise_flow.model.9.scale")
    state["noise_flow.model.2._encoder.weight"] = torch.zeros(1, 10)
    other = tmp_path / "other.pth"
    torch.save({"epoch_num": 1, "state_dict": state}, other)
    with pytest.raises(
        CheckpointError,
        match=r"other\.pth is not a Noise2NoiseFlow checkpoint \(flow sdn\|unc.*missing "
        r"tensors: noise_flow\.model\.9\.scale; unexpected tensors: "
        r"noise_flow\.model\.2\._encoder\.weight",
    ):
        convert_n2nflow_pth(other, tmp_path / "out")
    torch.save({"state_dict": {"flow.flows.0.beta1": torch.zeros(1)}}, other)  # e.g. the haihabi port's keys
    with pytest.raises(CheckpointError, match="is not a Noise2NoiseFlow checkpoint"):
        n2nflow_from_state_dict(load_n2nflow_state(other), str(other))


# ------------------------------------------------------------------------------------------ the output folder
def test_output_folder_rules(tmp_path, nf_dir):
    out = tmp_path / "out"
    out.mkdir()
    assert convert_noiseflow_tf(NF_PREFIX, out) == out  # an empty folder is fine
    with pytest.raises(FileExistsError, match="is not empty .* pass --overwrite"):
        convert_noiseflow_tf(NF_PREFIX, out)
    convert_noiseflow_tf(NF_PREFIX, out, overwrite=True)  # a previous conversion may be replaced
    again, first = load_file(out / "model.safetensors"), load_file(nf_dir / "model.safetensors")
    assert sorted(again) == sorted(first) and all(torch.equal(again[k], first[k]) for k in first)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"holds files a conversion does not write \(notes\.txt\)"):
        convert_noiseflow_tf(NF_PREFIX, out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_cli(tmp_path, capsys):
    out = tmp_path / "nf"
    assert main(["convert", "noiseflow-tf", str(NF_PREFIX), "--out", str(out)]) == 0
    assert "NoiseFlowTransform.from_pretrained" in capsys.readouterr().out
    assert main(["convert", "noiseflow-tf", str(NF_PREFIX), "--out", str(out)]) == 2
    assert "noiseaug convert: error:" in capsys.readouterr().err
    assert main(["convert", "n2nflow-pth", str(NF_PREFIX) + ".index", "--out", str(tmp_path / "n2n")]) == 2
    err = capsys.readouterr().err
    assert "is not a PyTorch checkpoint" in err and not (tmp_path / "n2n").exists()


def test_golden_benchmark_script(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "official_golden", Path(__file__).resolve().parents[1] / "benchmarks" / "official_golden.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--official", str(ROOT)])
    assert set(results) == {"Noise Flow (TF checkpoint)", "Noise2NoiseFlow (.pth)"}
    assert all(r["loglik"] < 0.01 and r["inverse"] < 1e-5 for r in results.values())
    assert "| Noise Flow (TF checkpoint) |" in capsys.readouterr().out
