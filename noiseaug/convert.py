"""Converting the authors' SIDD-trained Noise Flow and Noise2NoiseFlow weights into noiseaug folders.

* :func:`convert_noiseflow_tf`: Noise Flow (Abdelhamed, Brubaker, Brown, ICCV 2019), the TF1 checkpoint of
  BorealisAI/noise_flow (``models/NoiseFlow/ckpt/model.ckpt.best``), read with :mod:`noiseaug.tfbundle` (no
  TensorFlow). The eight coupling networks are taken in the order training built them (template ``""`` for
  the first coupling after the S layer, ``_1`` for the second, ...), not the reversed order of the authors'
  sampling wrapper; the batch-norm statistics are the checkpoint's.
* :func:`convert_n2nflow_pth`: Noise2NoiseFlow (Maleky, Kousha, Brown, Brubaker, CVPR 2022), the PyTorch checkpoint of
  SamsungLabs/Noise2NoiseFlow (``epoch_160_nf_model_net.pth``): its flow, and its 9-layer DnCNN as a 4-channel
  noiseaug :class:`~noiseaug.denoisers.dncnn.DnCNN` in ``OUT/dncnn``. Loaded with ``weights_only=True``.

Both write ``config.json``, ``model.safetensors`` and a card ``README.md`` naming the source files, their
sha256 and the weights' licence (CC BY-NC-SA 4.0), into a folder that appears complete or not at all (written
beside it, then renamed). The result loads with ``NoiseFlow.from_pretrained(OUT)`` and
``NoiseFlowTransform.from_pretrained(OUT)``; it is a :class:`~noiseaug.flows.noise_flow.NoiseFlow` with
``variant="official"`` whose inputs are in noiseaug's packed channel order. The exact formulas come from the
description of the authors' code (``../shared/official/ARCH.md``); ``tests/test_official_weights.py``
compares the converted models with the outputs of the authors' code.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from .atomic import atomic_write_folder
from .denoisers.dncnn import DnCNN
from .errors import NoiseaugFileExistsError
from .flows.noise_flow import NOISEAUG_CHANNEL_ORDER, SIDD_CHANNEL_ORDER, NoiseFlow
from .hub import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, load_folder, save_pretrained
from .tfbundle import CheckpointError, checkpoint_files, read_checkpoint

#: SIDD's five phones, in the order of the authors' camera tables (SIDD's file-name codes)
SIDD_CAMERAS = ("IP", "GP", "S6", "N6", "G4")
SIDD_CAMERA_NAMES = {
    "IP": "Apple iPhone 7",
    "GP": "Google Pixel",
    "S6": "Samsung Galaxy S6 Edge",
    "N6": "Motorola Nexus 6",
    "G4": "LG G4",
}
#: the ISO levels of the authors' per-ISO parameters
SIDD_ISOS = (100, 400, 800, 1600, 3200)
LICENCE = "CC BY-NC-SA 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
DNCNN_FOLDER = "dncnn"
#: what a converter writes, so that ``overwrite`` replaces only a folder that holds nothing else
CONVERTED_NAMES = frozenset({CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, DNCNN_FOLDER})

#: sha256 of the files the authors published (BorealisAI/noise_flow @ 48d1e077, SamsungLabs/Noise2NoiseFlow @ 5cf699e0)
OFFICIAL_SHA256 = {
    "noiseflow-tf": {
        "index": "33d7c2ee8ae60e85e49b8d0900ea34a39c00264fe22fe254a3304621b0064bfc",
        "data": "b4d17f2c55e87ef064e4da7f4721ea99f3de4dcf4c7245ad8506dc0d942a0426",
    },
    "n2nflow-pth": {"pth": "29800c70097dc36dd32b7483314ecd4556d41a555822531932788077437f2dd0"},
}
SOURCES = {
    "noiseflow-tf": (
        "Noise Flow: Noise Modeling with Conditional Normalizing Flows, A. Abdelhamed, M. A. Brubaker and "
        "M. S. Brown, ICCV 2019",
        "https://github.com/BorealisAI/noise_flow",
        "models/NoiseFlow/ckpt/model.ckpt.best.{index,data-00000-of-00001} at commit 48d1e077",
    ),
    "n2nflow-pth": (
        "Noise2NoiseFlow: Realistic Camera Noise Modeling without Clean Images, A. Maleky, S. Kousha, "
        "M. S. Brown and M. A. Brubaker, CVPR 2022",
        "https://github.com/SamsungLabs/Noise2NoiseFlow",
        "noise2noiseflow/experiments/paper/pretrained_model/saved_models/epoch_160_nf_model_net.pth at commit 5cf699e0",
    ),
}
#: the TF checkpoint's architecture string (its hps.txt), which the converter accepts
TF_ARCH = "sdn5|unc|unc|unc|unc|gain4|unc|unc|unc|unc"
#: TF bijector index of the 1x1 conv + coupling at coupling positions A1..A8
_TF_BIJECTORS = (1, 2, 3, 4, 6, 7, 8, 9)
#: noiseaug layer index of the 1x1 conv before coupling A1..A8 (the coupling is the next one); 0 = S, 9 = G
_CONV_LAYERS = (1, 3, 5, 7, 10, 12, 14, 16)
_SKIPPED_TF = ("level0/bijector0/rescaling_scale0", "level0/bijector5/rescaling_scale0")  # created, never used


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidd_flow(**settings: Any) -> NoiseFlow:
    return NoiseFlow(list(SIDD_CAMERAS), list(SIDD_ISOS), hidden=4, steps=4, variant="official", **settings)


def _permutation() -> list[int]:
    """``[k]``: the noiseaug channel of the authors' packed channel ``k``."""
    return [NOISEAUG_CHANNEL_ORDER.index(p) for p in SIDD_CHANNEL_ORDER]


# ---------------------------------------------------------------------------------------------- Noise Flow (TF)
def _fill_triangular_pair(l_vec: np.ndarray, u_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TF code's 6-vectors -> the strict lower / upper triangles of 4x4 matrices (its ``fill_triangular``
    packing of a 3x3 triangle, ARCH.md F3)."""
    lower, upper = np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32)
    for (i, j), k in {(1, 0): 3, (2, 0): 5, (2, 1): 4, (3, 0): 2, (3, 1): 1, (3, 2): 0}.items():
        lower[i, j] = l_vec[k]
    for (i, j), k in {(0, 1): 0, (0, 2): 1, (0, 3): 2, (1, 2): 4, (1, 3): 5, (2, 3): 3}.items():
        upper[i, j] = u_vec[k]
    return lower, upper


def _tf_expected() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        f"model/sdn_gain/{n}": s
        for n, s in (
            ("beta1", (1,)),
            ("beta2", (1,)),
            ("cam_params", (3, 5)),
            ("gain_params", (5,)),
            ("gain_val", (1,)),
        )
    }
    for i in _TF_BIJECTORS:
        conv = f"level0/bijector{i}/Conv2d_1x1_{i}"
        for part, shape in (("L_vec", (6,)), ("U_vec", (6,)), ("P", (4, 4)), ("log_S", (4,)), ("sign_S", (4,))):
            shapes[f"{conv}/{part}_matpar_lu_conv2d_1x1_{i}_0"] = shape
        shapes[f"level0/bijector{i}/rescaling_scale0"] = ()
    for k in range(8):
        t = _tf_template(k)
        shapes.update(
            {
                f"{t}/l_1/W": (3, 3, 2, 4),
                f"{t}/l_1/b": (1, 1, 1, 4),
                f"{t}/l_2/W": (1, 1, 4, 4),
                f"{t}/l_2/b": (1, 1, 1, 4),
                f"{t}/l_last/W": (3, 3, 5, 4),
                f"{t}/l_last/b": (1, 1, 1, 4),
                f"{t}/l_last/logs": (1, 4),
            }
        )
        for bn in ("bn_nvp_conv_1", "bn_nvp_conv_2"):
            shapes.update({f"{t}/{bn}/mean": (4,), f"{t}/{bn}/var": (4,)})
    for name in _SKIPPED_TF:
        shapes[name] = ()
    return shapes


def _tf_template(k: int) -> str:
    """The TF scope of coupling A_{k+1}'s network in training order (ARCH.md section 3)."""
    return "model/real_nvp_conv_template" + ("" if k == 0 else f"_{k}")


def _is_optimizer_state(name: str) -> bool:
    return name in ("global_step", "beta1_power", "beta2_power") or name.endswith(("/Adam", "/Adam_1"))


def _check_tensors(
    tensors: dict[str, np.ndarray],
    expected: dict[str, tuple[int, ...]],
    source: str,
    what: str,
    ignore: Callable[[str], bool] = lambda name: False,
) -> None:
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(k for k in set(tensors) - set(expected) if not ignore(k))
    wrong = sorted(
        f"{k}: {list(tensors[k].shape)}, expected {list(s)}"
        for k, s in expected.items()
        if k in tensors and tuple(tensors[k].shape) != s
    )
    if missing or unexpected or wrong:

        def show(items: list[str]) -> str:
            return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "") if items else "none"

        raise CheckpointError(
            f"{source} is not {what}: missing tensors: {show(missing)}; unexpected tensors: "
            f"{show(unexpected)}; wrong shapes: {show(wrong)}"
        )
    bad = sorted(k for k in expected if not np.isfinite(np.asarray(tensors[k], dtype=np.float64)).all())
    if bad:
        raise CheckpointError(f"{source}: tensors {bad} hold NaN or Inf: the checkpoint is corrupted or diverged")


def noiseflow_from_tf_tensors(tensors: dict[str, np.ndarray], source: str = "checkpoint") -> NoiseFlow:
    """The official Noise Flow from the TF checkpoint's tensors (:func:`noiseaug.tfbundle.read_checkpoint`)."""
    _check_tensors(
        tensors,
        _tf_expected(),
        source,
        f"the official Noise Flow checkpoint (architecture {TF_ARCH}, width 4, 143 tensors)",
        _is_optimizer_state,
    )
    t = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items() if k in _tf_expected()}
    flow = _sidd_flow(conv_layout="row", bn_affine=False, bn_eps=1e-4)
    state = flow.state_dict()
    sdn = "model/sdn_gain"
    new = {
        "layers.0.beta1": t[f"{sdn}/beta1"].reshape(()),
        "layers.0.beta2": t[f"{sdn}/beta2"].reshape(()),
        "layers.0.cam_params": t[f"{sdn}/cam_params"],
        "layers.0.gain_params": t[f"{sdn}/gain_params"],
        "layers.9.gain": t[f"{sdn}/gain_val"].reshape(()),
    }
    for k, (i, layer) in enumerate(zip(_TF_BIJECTORS, _CONV_LAYERS, strict=True)):
        conv, pre = f"level0/bijector{i}/Conv2d_1x1_{i}", f"layers.{layer}"
        lower, upper = _fill_triangular_pair(
            tensors[f"{conv}/L_vec_matpar_lu_conv2d_1x1_{i}_0"], tensors[f"{conv}/U_vec_matpar_lu_conv2d_1x1_{i}_0"]
        )
        new.update(
            {
                f"{pre}.permutation": t[f"{conv}/P_matpar_lu_conv2d_1x1_{i}_0"],
                f"{pre}.lower": torch.from_numpy(lower),
                f"{pre}.upper": torch.from_numpy(upper),
                f"{pre}.log_s": t[f"{conv}/log_S_matpar_lu_conv2d_1x1_{i}_0"],
                f"{pre}.sign_s": t[f"{conv}/sign_S_matpar_lu_conv2d_1x1_{i}_0"],
            }
        )
        net, cp = _tf_template(k), f"layers.{layer + 1}"

        def hwio(name: str, net: str = net) -> torch.Tensor:
            return t[f"{net}/{name}/W"].permute(3, 2, 0, 1).contiguous()

        new.update(
            {
                f"{cp}.rescale": t[f"level0/bijector{i}/rescaling_scale0"].reshape(()),
                f"{cp}.conv1.weight": hwio("l_1"),
                f"{cp}.conv1.bias": t[f"{net}/l_1/b"].reshape(4),
                f"{cp}.conv2.weight": hwio("l_2"),
                f"{cp}.conv2.bias": t[f"{net}/l_2/b"].reshape(4),
                f"{cp}.conv3.weight": hwio("l_last"),
                f"{cp}.conv3.bias": t[f"{net}/l_last/b"].reshape(4),
                f"{cp}.logs": t[f"{net}/l_last/logs"].reshape(4),
            }
        )
        for bn, tf_bn in (("bn1", "bn_nvp_conv_1"), ("bn2", "bn_nvp_conv_2")):
            new.update(
                {f"{cp}.{bn}.running_mean": t[f"{net}/{tf_bn}/mean"], f"{cp}.{bn}.running_var": t[f"{net}/{tf_bn}/var"]}
            )
    _load_exactly(flow, state, new, source)
    _check_permutations(flow, source)
    return flow.eval()


def _load_exactly(
    model: torch.nn.Module, state: dict[str, torch.Tensor], new: dict[str, torch.Tensor], source: str
) -> None:
    """Set every entry of ``model``'s state from ``new`` except the LU masks (which are constants)."""
    needed = {k for k in state if not k.endswith("lower_mask")}
    assert needed == set(new), (sorted(needed - set(new)), sorted(set(new) - needed))
    for k, v in new.items():
        if tuple(v.shape) != tuple(state[k].shape):
            raise CheckpointError(f"{source}: {k} has shape {list(v.shape)}, expected {list(state[k].shape)}")
    model.load_state_dict({**state, **{k: v.to(state[k].dtype) for k, v in new.items()}}, strict=True)


def _check_permutations(flow: NoiseFlow, source: str) -> None:
    for layer in flow.layers:
        if hasattr(layer, "permutation"):
            p, s = cast(torch.Tensor, layer.permutation), cast(torch.Tensor, layer.sign_s)
            if not (
                torch.equal(p.sum(0), torch.ones(4))
                and torch.equal(p.sum(1), torch.ones(4))
                and bool(((p == 0) | (p == 1)).all())
                and bool((s.abs() == 1).all())
            ):
                raise CheckpointError(
                    f"{source}: a 1x1 convolution's P is not a permutation matrix or its sign_S "
                    f"is not +-1: not a Noise Flow checkpoint, or a corrupted one"
                )


# ---------------------------------------------------------------------------------------------- Noise2NoiseFlow
def _n2n_expected() -> dict[str, tuple[int, ...]]:
    f = "noise_flow.model."
    shapes: dict[str, tuple[int, ...]] = {
        f"{f}0._scale.cam_params": (3, 5),
        f"{f}0._scale.gain_params": (5,),
        f"{f}0._scale.beta1": (),
        f"{f}0._scale.beta2": (),
        f"{f}9.scale": (),
    }
    for layer in _CONV_LAYERS:
        shapes.update(
            {
                f"{f}{layer}.{n}": s
                for n, s in (("l", (4, 4)), ("u", (4, 4)), ("p", (4, 4)), ("log_s", (4,)), ("sign_s", (4,)))
            }
        )
        c = f"{f}{layer + 1}._shift_and_log_scale."
        shapes.update(
            {
                f"{c}scale": (1,),
                f"{c}logs": (1, 4, 1, 1),
                f"{c}conv2d_3.weight": (4, 5, 3, 3),
                f"{c}conv2d_3.bias": (4,),
            }
        )
        for conv, net, shape in (("conv2d_1", "net.0", (4, 2, 3, 3)), ("conv2d_2", "net.3", (4, 4, 1, 1))):
            for name in (conv, net):
                shapes.update({f"{c}{name}.weight": shape, f"{c}{name}.bias": (4,)})
        for bn in ("net.1", "net.4"):
            shapes.update({f"{c}{bn}.{n}": (4,) for n in ("weight", "bias", "running_mean", "running_var")})
            shapes[f"{c}{bn}.num_batches_tracked"] = ()
    d = "denoiser.dncnn."
    shapes.update({f"{d}0.weight": (64, 4, 3, 3), f"{d}0.bias": (64,), f"{d}23.weight": (4, 64, 3, 3)})
    for i in range(2, 23, 3):
        shapes[f"{d}{i}.weight"] = (64, 64, 3, 3)
        shapes.update({f"{d}{i + 1}.{n}": (64,) for n in ("weight", "bias", "running_mean", "running_var")})
        shapes[f"{d}{i + 1}.num_batches_tracked"] = ()
    return shapes


def load_n2nflow_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a Noise2NoiseFlow ``.pth`` (zip CRC-32 of every member checked, ``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found (expected the Noise2NoiseFlow checkpoint epoch_160_nf_model_net.pth)")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise CheckpointError(f"{path}: a damaged zip archive ({error}); expected a PyTorch checkpoint") from error
        if bad is not None:
            raise CheckpointError(f"{path}: member {bad!r} fails its CRC-32 check: the file is corrupted")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for a file that is not its own
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint loadable with weights_only=True (a different or "
            f"truncated file?): {type(error).__name__}: {str(error).splitlines()[0][:300]}"
        ) from error
    state = payload.get("state_dict") if isinstance(payload, dict) and "state_dict" in payload else payload
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path} holds no tensor state_dict (expected {{'epoch_num', 'state_dict', 'optimizer'}} "
            f"as Noise2NoiseFlow saves it)"
        )
    return state


def n2nflow_from_state_dict(state: dict[str, torch.Tensor], source: str = "checkpoint") -> tuple[NoiseFlow, DnCNN]:
    """The Noise2NoiseFlow flow and its DnCNN (4-channel, noiseaug's channel order) from its ``state_dict``."""
    expected = _n2n_expected()
    _check_tensors(
        {k: v.detach().cpu().numpy() for k, v in state.items()},
        expected,
        source,
        "a Noise2NoiseFlow checkpoint (flow sdn|unc|unc|unc|unc|gain|unc|unc|unc|unc, width 4, and a "
        "9-layer DnCNN 4-64-4)",
    )
    t = {k: state[k].detach().cpu() for k in expected}
    f = "noise_flow.model."
    for layer in _CONV_LAYERS:
        c = f"{f}{layer + 1}._shift_and_log_scale."
        for a, b in (("conv2d_1", "net.0"), ("conv2d_2", "net.3")):
            for part in ("weight", "bias"):
                if not torch.equal(t[f"{c}{a}.{part}"], t[f"{c}{b}.{part}"]):
                    raise CheckpointError(
                        f"{source}: {c}{a}.{part} differs from {c}{b}.{part}; in Noise2NoiseFlow "
                        f"they are one module registered twice: a corrupted or different checkpoint"
                    )
    flow = _sidd_flow(conv_layout="column", bn_affine=True, bn_eps=1e-5)
    state_flow = flow.state_dict()
    new = {
        "layers.0.beta1": t[f"{f}0._scale.beta1"],
        "layers.0.beta2": t[f"{f}0._scale.beta2"],
        "layers.0.cam_params": t[f"{f}0._scale.cam_params"],
        "layers.0.gain_params": t[f"{f}0._scale.gain_params"],
        "layers.9.gain": t[f"{f}9.scale"],
    }
    for layer in _CONV_LAYERS:
        pre = f"{f}{layer}."
        new.update(
            {
                f"layers.{layer}.permutation": t[f"{pre}p"],
                f"layers.{layer}.lower": t[f"{pre}l"],
                f"layers.{layer}.upper": t[f"{pre}u"],
                f"layers.{layer}.log_s": t[f"{pre}log_s"],
                f"layers.{layer}.sign_s": t[f"{pre}sign_s"],
            }
        )
        c, cp = f"{f}{layer + 1}._shift_and_log_scale.", f"layers.{layer + 1}"
        new.update(
            {
                f"{cp}.rescale": t[f"{c}scale"].reshape(()),
                f"{cp}.logs": t[f"{c}logs"].reshape(4),
                f"{cp}.conv1.weight": t[f"{c}net.0.weight"],
                f"{cp}.conv1.bias": t[f"{c}net.0.bias"],
                f"{cp}.conv2.weight": t[f"{c}net.3.weight"],
                f"{cp}.conv2.bias": t[f"{c}net.3.bias"],
                f"{cp}.conv3.weight": t[f"{c}conv2d_3.weight"],
                f"{cp}.conv3.bias": t[f"{c}conv2d_3.bias"],
            }
        )
        for bn, net in (("bn1", "net.1"), ("bn2", "net.4")):
            new.update(
                {f"{cp}.{bn}.{n}": t[f"{c}{net}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")}
            )
    _load_exactly(flow, state_flow, new, source)
    _check_permutations(flow, source)
    return flow.eval(), _dncnn_from_state(t)


def _dncnn_from_state(t: dict[str, torch.Tensor]) -> DnCNN:
    """The authors' DnCNN (residual; last conv without bias) as a noiseaug DnCNN on noiseaug's channel order."""
    net = DnCNN(channels=4, depth=9, width=64, batch_norm=True, residual=True)
    perm = torch.tensor(np.argsort(_permutation()))  # the authors' channel of noiseaug channel k
    d = "denoiser.dncnn."
    new = {k.replace(d, "body."): v for k, v in t.items() if k.startswith(d)}
    # noiseaug input channel j is the authors' channel perm[j]; output likewise
    new["body.0.weight"] = new["body.0.weight"][:, perm]
    new["body.23.weight"] = new["body.23.weight"][perm]
    new["body.23.bias"] = torch.zeros(4)
    net.load_state_dict(new, strict=True)
    return net.eval()


# ---------------------------------------------------------------------------------------------- writing
_FLOW_MODEL = """Trained on real SIDD raw data: five phones, {phones}, at ISO {isos} (the only ISO values it has parameters
for). Camera index = position in that list. Input: packed raw `(B, 4, H, W)` in noiseaug's channel order (0,0),
(0,1), (1,0), (1,1), normalised to [0, 1]; the model permutes to the authors' order (0,0), (0,1), (1,1), (1,0) and
back.
"""
_FLOW_USAGE = """from noiseaug import NoiseFlowTransform
add_noise = NoiseFlowTransform.from_pretrained("THIS_FOLDER")   # mixed phones and ISOs in one batch"""
_DNCNN_MODEL = """The denoiser Noise2NoiseFlow trained jointly with its noise model, on real SIDD raw pairs of noisy shots (the five
phones at ISO 100-3200): a 9-layer DnCNN (4 -> 64 -> 4 channels, batch norm, residual). Input: noisy packed raw
`(B, 4, H, W)` in noiseaug's channel order (0,0), (0,1), (1,0), (1,1), normalised to [0, 1]; its first and last
convolutions are permuted from the authors' order (0,0), (0,1), (1,1), (1,0), and the last one has a zero bias
(the authors' has none).
"""
_DNCNN_USAGE = """from noiseaug import DnCNN
denoiser = DnCNN.from_pretrained("THIS_FOLDER").eval()   # noisy packed raw in, denoised packed raw out"""


def _card(kind: str, files: list[Path], model: str, description: str, body: str, usage: str) -> str:
    title, url, where = SOURCES[kind]
    known = OFFICIAL_SHA256[kind]
    rows, official = [], True
    for role, path in zip(known, files, strict=True):
        digest = sha256(path)
        match = digest == known[role]
        official &= match
        rows.append(f"| `{path.name}` | {path.stat().st_size} | `{digest}` | {'yes' if match else 'no'} |")
    verdict = (
        "The source files are byte-identical to the authors' release."
        if official
        else "**The source files differ from the authors' release** (their sha256 is not the published files'): "
        "this folder holds a conversion of those other files."
    )
    phones = ", ".join(f"{c} ({SIDD_CAMERA_NAMES[c]})" for c in SIDD_CAMERAS)
    return f"""---
license: cc-by-nc-sa-4.0
library_name: noiseaug
tags: [noise-model, normalizing-flow, raw, sidd]
---

# {model}, converted from the authors' weights

Converted by noiseaug with `noiseaug convert {kind}` from the weights published with *{title}*
({url}, `{where}`). These are the authors' weights, not noiseaug's: do not redistribute them except under
their licence.

**Licence: {LICENCE}** ({LICENCE_URL}), the licence of the source weights, which this converted copy keeps
(share-alike): attribution, non-commercial use only.

## Source

| file | bytes | sha256 | the authors' file |
| --- | --- | --- | --- |
{chr(10).join(rows)}

{verdict}

## Model

{description.format(phones=phones, isos=", ".join(map(str, SIDD_ISOS)))}{body}
```python
{usage}
```
"""


def _write_folder(out: str | Path, write: Callable[[Path], None], overwrite: bool) -> Path:
    """Run ``write(tmp)`` on a fresh folder beside ``out``, then put it in the place of ``out`` (all or nothing;
    :func:`~noiseaug.atomic.atomic_write_folder`).

    An existing non-empty ``out`` is an error unless ``overwrite``, and even then only if it holds nothing but
    what a converter writes.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NoiseaugFileExistsError(f"{out} exists and is not a folder")
    existing = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if existing and not overwrite:
        raise NoiseaugFileExistsError(
            f"{out} is not empty ({', '.join(existing[:5])}{', ...' if len(existing) > 5 else ''}); "
            f"choose a new folder or pass --overwrite to replace a previous conversion"
        )
    foreign = [name for name in existing if name not in CONVERTED_NAMES]
    if foreign:
        raise NoiseaugFileExistsError(
            f"{out} holds files a conversion does not write ({', '.join(foreign[:5])}); "
            f"not replacing it, even with --overwrite"
        )
    return atomic_write_folder(out, write)


def _save_checked(model: NoiseFlow | DnCNN, folder: Path, card: str) -> None:
    """``save_pretrained`` and read the folder back: the written files must reproduce the model exactly."""
    save_pretrained(model, folder, card=card)
    again = load_folder(folder)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        if not torch.equal(a, b):
            raise RuntimeError(f"{folder}: {k} does not read back as written")


_TF_BODY = """
Conversion: the authors' TF1 formulas (`variant="official"`: per-camera and per-ISO factors in the signal-dependent
layer, one scalar gain, LU 1x1 convolutions applied to row vectors, couplings with batch norm without affine,
eps 1e-4, from the checkpoint's stored statistics, and an edge-padding channel; no act-norm). The eight coupling
networks are assembled in the order training built them (TF templates `real_nvp_conv_template`, `_1`, ... `_7` for
couplings 1..8 from the data side). The authors' sampling wrapper (and the PyTorch port derived from it) assembles
them in reverse, which gives samples many times too strong. Batch norm always uses the stored statistics, as the
authors' test loop did (`is_training=False`).
"""
_N2N_BODY = """
Conversion: the Noise2NoiseFlow formulas (`variant="official"`: the same signal-dependent and gain layers as Noise
Flow, LU 1x1 convolutions applied to column vectors, couplings with standard batch norm, affine, eps 1e-5, from the
checkpoint's running statistics, and an edge-padding channel; no act-norm). The checkpoint's float64 camera and ISO
parameters are stored as float32. Its denoiser (9-layer DnCNN) is in `dncnn/`, with its own card.
"""


def convert_noiseflow_tf(prefix: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Convert the official TF1 Noise Flow checkpoint ``prefix`` (``PREFIX.index`` + ``PREFIX.data-*``) into ``out``."""
    index, base = checkpoint_files(prefix)
    tensors = read_checkpoint(base)
    hps = base.parent / "hps.txt"
    if hps.is_file():
        arch = next(
            (
                line.split(",", 1)[1].strip()
                for line in hps.read_text(errors="replace").splitlines()
                if line.startswith("arch,")
            ),
            None,
        )
        if arch is not None and arch != TF_ARCH:
            raise CheckpointError(f"{hps} gives the architecture {arch!r}; the converter reads {TF_ARCH!r}")
    flow = noiseflow_from_tf_tensors(tensors, str(index))
    data = base.with_name(f"{base.name}.data-00000-of-00001")
    card = _card("noiseflow-tf", [index, data], "Noise Flow (SIDD)", _FLOW_MODEL, _TF_BODY, _FLOW_USAGE)
    return _write_folder(out, lambda tmp: _save_checked(flow, tmp, card), overwrite)


def convert_n2nflow_pth(path: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Convert the official Noise2NoiseFlow ``.pth`` into ``out`` (the flow) and ``out/dncnn`` (its denoiser)."""
    path = Path(path)
    flow, dncnn = n2nflow_from_state_dict(load_n2nflow_state(path), str(path))
    card = _card("n2nflow-pth", [path], "Noise2NoiseFlow (SIDD)", _FLOW_MODEL, _N2N_BODY, _FLOW_USAGE)
    dncnn_card = _card(
        "n2nflow-pth", [path], "Noise2NoiseFlow's DnCNN denoiser (SIDD raw)", _DNCNN_MODEL, "", _DNCNN_USAGE
    )

    def write(tmp: Path) -> None:
        _save_checked(flow, tmp, card)
        _save_checked(dncnn, tmp / DNCNN_FOLDER, dncnn_card)

    return _write_folder(out, write, overwrite)


__all__ = [
    "CheckpointError",
    "SIDD_CAMERAS",
    "SIDD_ISOS",
    "convert_n2nflow_pth",
    "convert_noiseflow_tf",
    "load_n2nflow_state",
    "n2nflow_from_state_dict",
    "noiseflow_from_tf_tensors",
]
