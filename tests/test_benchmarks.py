"""Smoke tests of the benchmark scripts: a tiny subset, end to end, in a subprocess (needs the shared data)."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from noiseaug.data.root import data_root

ROOT = Path(__file__).resolve().parents[1]


def _have_data() -> bool:
    try:
        return (data_root() / "real-srgb").is_dir() and (data_root() / "clean" / "bsd300-test").is_dir()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_noise_quality_runs_on_a_tiny_subset_and_reports_every_model(tmp_path):
    figure = importlib.util.find_spec("matplotlib") is not None
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "noise_quality.py"),
        "--out",
        str(tmp_path),
        "--limit",
        "1",
        "--raw-batches",
        "1",
        "--data",
        str(data_root().resolve()),
    ] + ([] if figure else ["--no-figure"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "noise_quality.json").read_text())
    assert {"seed", "limit", "hardware", "weights", "srgb", "raw", "seconds"} <= report.keys()
    assert set(report["weights"]) == {"naflow-srgb", "noiseflow-simcam", "n2nflow-simcam"}
    models = report["srgb"]["models"]
    assert len(models) == 7
    summary = report["srgb"]["summary"]
    assert len(summary) == 2  # held-out PolyU + CC15 and sidd-dev
    for per_model in summary.values():
        assert set(per_model) == {"real", *models}
        assert per_model["real"]["images"] == 1
        for name in models:
            m = per_model[name]
            assert {"kld", "akld", "nll", "corr_h1", "std_255", "images", "non_finite"} <= m.keys()
            assert m["kld"] >= 0 and m["akld"] >= 0 and -1 <= m["corr_h1"] <= 1
            assert (m["nll"] is None) == ("NoiseFlow-ISP" in name or "random" in name or "fitted latent" in name)
    assert len(report["srgb"]["rows"]) == 2 * 8  # 2 sets x 1 image x (real + 7 models)
    raw = report["raw"]["results"]
    assert {
        "Noise Flow (noiseflow-simcam)",
        "NLF, fitted on train per camera/ISO",
        "AWGN, fitted on train per camera/ISO",
    } <= set(raw)
    assert any("n2nflow-simcam" in name for name in raw)
    assert all(math.isfinite(r["val_nll"]) and r["val_kl"] >= 0 for r in raw.values())
    assert "| AWGN (fitted per image) |" in (tmp_path / "noise_quality.md").read_text()
    assert (tmp_path / "noise_crops.png").is_file() == figure


def test_benchmark_scripts_import_only_the_installed_package():
    """No script imports a sibling script, a private noiseaug module or name, or edits sys.path."""
    import ast

    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    siblings = {p.stem for p in scripts}
    assert len(scripts) > 10
    for script in scripts:
        tree = ast.parse(script.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{script.name}: relative import"
                modules = [(node.module or "", [alias.name for alias in node.names])]
            else:
                if isinstance(node, ast.Attribute) and node.attr == "path":
                    assert not (isinstance(node.value, ast.Name) and node.value.id == "sys"), f"{script.name}: sys.path"
                continue
            for module, names in modules:
                assert module.split(".")[0] not in siblings, f"{script.name} imports the script {module}"
                if module.split(".")[0] == "noiseaug":
                    private = [part for part in module.split(".") + names if part.startswith("_")]
                    assert not private, f"{script.name}: private {private} from {module}"


def _load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_curves_reads_one_value_per_step_and_plots_every_run(tmp_path):
    curves = _load_benchmark("training_curves")
    for name, values in (("a", [20.0, 25.0, 27.0]), ("b", [21.0, 26.0, 28.5])):
        (tmp_path / name).mkdir()
        history = [{"step": 500 * (i + 1), "val_psnr": v, "train_loss": 0.1} for i, v in enumerate(values)]
        history.append(dict(history[-1]))  # the final validation is logged twice
        (tmp_path / name / "history.json").write_text(json.dumps(history))
    assert curves.read_curve(tmp_path / "a", "val_psnr") == ([500, 1000, 1500], [20.0, 25.0, 27.0])
    with pytest.raises(SystemExit, match="no 'val_nll'"):
        curves.read_curve(tmp_path / "a", "val_nll")
    with pytest.raises(SystemExit, match="does not exist"):
        curves.read_curve(tmp_path / "missing", "val_psnr")
    if importlib.util.find_spec("matplotlib") is None:
        return
    out = tmp_path / "curves.png"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "training_curves.py"),
        "--out",
        str(out),
        "--run",
        f"A={tmp_path / 'a'}",
        "--run",
        f"B={tmp_path / 'b'}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["A: val_psnr = 27.000 at step 1500", "B: val_psnr = 28.500 at step 1500"]
    assert out.stat().st_size > 0


def test_clean_free_denoisers_measures_the_error_to_noise_ratio_per_iso(tmp_path):
    import torch

    from noiseaug.data.camera import SimulatedCamera
    from noiseaug.data.shots import simcam_split
    from noiseaug.denoisers import UNet
    from noiseaug.hub import save_pretrained
    from noiseaug.imageio import write_png

    bench = _load_benchmark("clean_free_denoisers")
    assert bench.gaussian_nll_excess(0.0) == 0.0
    assert bench.gaussian_nll_excess(1.0) == pytest.approx(0.5 * math.log(2) - 0.25)  # variance doubled
    for i in range(3):
        write_png(
            tmp_path / "images" / f"img{i}.png", torch.rand(3, 80, 80, generator=torch.Generator().manual_seed(i))
        )
    draws = [simcam_split(tmp_path / "images", SimulatedCamera(), 32, 10, seed=0, test_seed=10_000).test.batch(0)]
    identity = bench.per_iso(torch.nn.Identity(), draws)  # only the clamp to [0, 1] removes a little error
    assert identity and all(0.9 < row["ratio"] <= 1.0 and row["denoised"] >= row["noisy"] for row in identity.values())
    halved = bench.per_iso(lambda noisy: draws[0].clean_raw + 0.5 * (noisy - draws[0].clean_raw), draws)
    assert all(row["ratio"] == pytest.approx(0.25, rel=1e-3) for row in halved.values())  # error = noise / 2
    save_pretrained(UNet(channels=4, width=8, levels=2, residual=True), tmp_path / "unet")  # starts as the identity
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "clean_free_denoisers.py"),
        "--images",
        str(tmp_path / "images"),
        "--test-batches",
        "1",
        "--denoiser",
        f"fresh={tmp_path / 'unet'}",
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    table = json.loads((tmp_path / "out" / "clean_free_denoisers.json").read_text())["fresh"]
    assert table and all(0.9 < row["ratio"] <= 1.0 for row in table.values())
    assert "| (noisy input) |" in result.stdout


def test_nlf_recovery_table_compares_the_flow_and_a_clean_data_fit_with_the_true_nlf(tmp_path):
    import torch

    from noiseaug.data.camera import SimulatedCamera
    from noiseaug.denoisers import UNet
    from noiseaug.flows.noise_flow import NoiseFlow
    from noiseaug.hub import save_pretrained
    from noiseaug.imageio import write_png

    camera = SimulatedCamera.pixel_independent()
    flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant="nlf")
    names = [c for c in camera.cameras for _ in camera.isos]
    beta1, beta2 = camera.nlf(camera.condition(names, [i for _ in camera.cameras for i in camera.isos]))
    with torch.no_grad():  # the true NLF, and beta2 twice too large for sim-b
        flow.layers[0].log_beta1.copy_(beta1.double().log().view(5, 5))
        flow.layers[0].log_beta2.copy_(beta2.double().log().view(5, 5))
        flow.layers[0].log_beta2[1].add_(math.log(2.0))
    save_pretrained(flow, tmp_path / "noise_model")
    for i in range(3):
        write_png(
            tmp_path / "images" / f"img{i}.png", torch.rand(3, 80, 80, generator=torch.Generator().manual_seed(i))
        )
    save_pretrained(UNet(channels=4, width=8, levels=2, residual=True), tmp_path / "identity")  # a fresh one
    table = _load_benchmark("nlf_recovery_plot").recovery_table(
        tmp_path / "noise_model", tmp_path / "images", 4, tmp_path / "identity"
    )
    rows = [[float(cell) for cell in line.strip("| ").split(" | ")[2:]] for line in table.splitlines()[2:]]
    assert len(rows) == 25 and all(len(row) == 8 and abs(row[2]) < 1e-3 for row in rows)
    assert [row[3] for row in rows] == pytest.approx(
        [0.0] * 5 + [1.0] * 5 + [0.0] * 15, abs=1e-3
    )  # sim-b: beta2 doubled
    assert all(abs(row[4]) < 0.5 for row in rows)  # ML fit of beta1 with the clean images, 2-3 patches each
    # around the mean of two noisy shots (identity D) the signal is noisy: beta1 comes out diluted on average
    assert sum(row[6] for row in rows) / 25 < sum(row[4] for row in rows) / 25


@pytest.mark.slow  # every peer library is imported and timed once
def test_throughput_interleaves_cases_and_reports_ratios_and_scaling(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("throughput", ROOT / "benchmarks" / "throughput.py")
    throughput = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "throughput", throughput)  # its dataclass looks itself up there
    spec.loader.exec_module(throughput)
    monkeypatch.setattr(throughput, "PRETRAINED", [])  # the flows are timed by flow_patches / device runs
    monkeypatch.setattr(
        throughput,
        "scaling_transforms",
        lambda: [
            ("GaussianNoiseTransform", throughput.GaussianNoiseTransform, "srgb"),
            (throughput.FLOOR, lambda: None, "srgb"),
        ],
    )
    report = throughput.main(
        [
            "--batch",
            "2",
            "--size",
            "16",
            "--repeats",
            "3",
            "--warmup",
            "1",
            "--step-repeats",
            "1",
            "--scaling",
            "--scaling-sides",
            "16",
            "32",
            "--scaling-batches",
            "1",
            "--scaling-repeats",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    names = {r["name"]: r for r in report["results"]}
    assert len(names[throughput.FLOOR]["times_ms"]) == 3 and names["GaussianNoiseTransform"]["median_ms"] > 0
    ratio = next(r for r in report["ratios"] if r["denominator"] == throughput.FLOOR)
    assert math.isclose(
        ratio["ratio"], names["GaussianNoiseTransform"]["median_ms"] / names[throughput.FLOOR]["median_ms"]
    )
    for cost in (throughput.POISSON_TORCH, throughput.POISSON_NUMPY, throughput.RANDN_PER_IMAGE):
        assert names[cost]["median_ms"] > 0  # torch and numpy are always there; cv2 only with albumentations
    assert {(throughput.POISSON_TORCH, "GaussianNoiseTransform")} <= {
        (r["numerator"], r["denominator"]) for r in report["ratios"]
    }
    points = report["scaling"]["points"]
    assert {(p["sweep"], p["batch"], p["side"]) for p in points} == {("side", 1, 16), ("side", 1, 32), ("batch", 1, 16)}
    assert all(p["median_ms"] > 0 for p in points)
    figure = importlib.util.find_spec("matplotlib") is not None  # CI installs no matplotlib: no figure there
    assert (tmp_path / "throughput_scaling.png").is_file() == figure
    assert "| ratio of medians" in (tmp_path / "throughput.md").read_text()


def test_sidd_noiseflow_nlf_measures_every_camera_and_iso(tmp_path):
    """Smoke test on random official-variant flows (the authors' weights are not needed) and two tiny images."""
    import torch

    from noiseaug.flows.noise_flow import NoiseFlow
    from noiseaug.imageio import write_png

    bench = _load_benchmark("sidd_noiseflow_nlf")
    for name, settings in (("nf", {}), ("n2n", {"conv_layout": "column", "bn_affine": True, "bn_eps": 1e-5})):
        flow = NoiseFlow(["IP", "GP", "S6", "N6", "G4"], [100, 400, 800, 1600, 3200], variant="official", **settings)
        with torch.no_grad():
            flow.layers[0].beta1.fill_(-4.3)  # roughly SIDD-strength noise
            flow.layers[0].beta2.fill_(-0.3)
            flow.layers[0].gain_params.fill_(-3.0)
        flow.save_pretrained(tmp_path / name)
    (tmp_path / "images").mkdir()
    for k in range(2):
        write_png(tmp_path / "images" / f"{k}.png", torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(k)))
    figure = importlib.util.find_spec("matplotlib") is not None
    report = bench.main(
        [
            "--noiseflow",
            str(tmp_path / "nf"),
            "--n2nflow",
            str(tmp_path / "n2n"),
            "--images",
            str(tmp_path / "images"),
            "--size",
            "32",
            "--out",
            str(tmp_path / "out"),
        ]
        + ([] if figure else ["--no-figure"])
    )
    assert len(report["combos"]) == 25 and report["count"] == 2
    calibrated = [c for c in report["combos"] if c["sidd"] is not None]
    assert len(calibrated) == 15
    for c in report["combos"]:
        for name in ("Noise Flow", "N2NFlow", "sim preset"):
            assert c[name]["beta1"] >= 0 and c[name]["std"] > 0
            assert (c[name]["var_ratio"] is None) == (c["sidd"] is None)
    assert all(0.5 < c["sim preset"]["var_ratio"] < 2 for c in calibrated)
    assert "| S6 | 3200 | 0.0199 | 2e-06 |" in (tmp_path / "out" / "sidd_nlf.md").read_text()
    assert (tmp_path / "out" / "sidd_nlf.png").is_file() == figure


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_sidd_srgb_raw_route_reports_every_model(tmp_path):
    """Smoke test on one sidd-dev pair with random official-variant flows (the authors' weights are not needed)."""
    from noiseaug.flows.noise_flow import NoiseFlow

    for name in ("nf", "n2n"):
        NoiseFlow(["IP", "GP", "S6", "N6", "G4"], [100, 400, 800, 1600, 3200], variant="official").save_pretrained(
            tmp_path / name
        )
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "sidd_srgb_raw_route.py"),
        "--noiseflow",
        str(tmp_path / "nf"),
        "--n2nflow",
        str(tmp_path / "n2n"),
        "--limit",
        "1",
        "--data",
        str(data_root().resolve()),
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "sidd_srgb.json").read_text())
    assert set(report["summary"]) == {
        "real",
        "NLF (fitted per image)",
        "NAFlow (NAS)",
        "NAFlow (fitted latent)",
        "NAFlow (random configuration)",
        "raw route + Noise Flow (pair's phone/ISO)",
        "raw route + Noise Flow (random phone/ISO)",
        "raw route + N2NFlow (pair's phone/ISO)",
        "raw route + N2NFlow (random phone/ISO)",
        "raw route + noiseflow-simcam (random)",
    }
    for model, m in report["summary"].items():
        assert m["images"] == 1 and -1 <= m["corr_h1"] <= 1 and m["std_255"] >= 0
        assert (m["kld"] is None) == (model == "real")


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_naflow_posterior_reports_rank1_at_temperature_zero_and_mixing_above():
    command = [sys.executable, str(ROOT / "benchmarks" / "naflow_posterior.py"), "--temperature", "0", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [
        line.split("|") for line in result.stdout.splitlines() if line.startswith("| 0 ") or line.startswith("| 1 ")
    ]
    assert [float(r[2]) for r in rows][0] == 1.0 and float(rows[1][2]) < 0.9  # T = 1 spreads the weight
    for row in rows:  # the noise of each temperature's mixture: KLD, AKLD and std ratio, DSLR / phone
        scores = [float(v) for cell in row[4:7] for v in cell.split("/")]
        assert len(scores) == 6 and all(0 < v < 5 for v in scores)
    assert rows[0][4:7] != rows[1][4:7]  # mixing changes the noise


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_naflow_config_std_reports_one_row_per_phone_configuration_of_sidd_train():
    command = [sys.executable, str(ROOT / "benchmarks" / "naflow_config_std.py"), "--side", "64"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): line.split("|") for line in result.stdout.splitlines() if "-iso" in line}
    assert set(rows) == {"n6-iso3200", "s6-iso100", "s6-iso800"}
    assert sum(int(r[2]) for r in rows.values()) == 43  # every sidd-train pair, each under its own configuration
    for row in rows.values():  # std ratio (median, min, max), lag-1 correlations, shadows / highlights ratios
        ratio, low, high = (float(v) for v in row[3].split(","))
        assert 0.1 < low <= ratio <= high < 10
        correlations = [float(v) for v in row[4].split("/")]
        assert all(-1 <= c <= 1 for c in correlations)
        assert all(0 < float(v) < 20 for v in row[5].split("/"))
        assert all(0 < float(v) < 20 for v in row[6].split("/"))  # edges / flat std ratios
        assert all(1 < float(v) < 100 for v in row[7].split("/"))  # kurtosis: at least a uniform's 1.8


def test_denoising_benchmark_loads_a_runs_checkpoint_into_its_exported_architecture(tmp_path):
    import torch

    from noiseaug import DnCNN
    from noiseaug.hub import save_pretrained

    denoising = _load_benchmark("denoising")
    save_pretrained(DnCNN(depth=3, width=4), tmp_path / "run" / "denoiser")
    trained = DnCNN(depth=3, width=4)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.5)
    weights = {f"denoiser.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"model": weights, "state": {}}, tmp_path / "run" / "last.pt")
    loaded = denoising.load_model(str(tmp_path / "run" / "last.pt"))
    assert not loaded.training
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in trained.state_dict().items())
    exported = denoising.load_model(str(tmp_path / "run" / "denoiser"))
    assert not torch.equal(exported.state_dict()["body.0.weight"], trained.state_dict()["body.0.weight"])
    torch.save({"model": {"denoiser.body.0.weight": weights["denoiser.body.0.weight"]}}, tmp_path / "run" / "bad.pt")
    with pytest.raises(RuntimeError, match="Missing key"):
        denoising.load_model(str(tmp_path / "run" / "bad.pt"))


def test_denoising_benchmark_summarises_replicate_runs_per_group():
    denoising = _load_benchmark("denoising")
    results = {
        "sidd-dev": {
            "noisy input": {"psnr": 19.0},
            "real#0": {"psnr": 28.0},
            "real#1": {"psnr": 27.0},
            "real#2": {"psnr": 29.0},
            "flow#0": {"psnr": 26.0},  # a group of one: no spread to report
        }
    }
    summary = denoising.replicate_groups(results)["sidd-dev"]
    assert set(summary) == {"real"}
    assert summary["real"] == {"n": 3, "mean": 28.0, "std": 1.0, "min": 27.0, "max": 29.0}
    table = denoising.replicates_markdown({"sidd-dev": summary})
    assert "| real (3 runs) | 28.00 +- 1.00 (27.00 to 29.00) |" in table


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_crop_noise_range_compares_a_source_with_the_real_noise_of_the_same_crops():
    command = [sys.executable, str(ROOT / "benchmarks" / "crop_noise_range.py"), "--noise", "nlf", "--batches", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("32 crops of 48x48 from 43 sidd-train pairs")
    lines = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| ")]
    rows = {cells[1].strip(): cells for cells in lines[2:]}  # after the header and separator
    assert set(rows) == {"real pairs", "nlf"}
    for row in rows.values():
        quantiles = [float(v) for v in row[2].split("/")]
        assert quantiles == sorted(quantiles) and 0 < quantiles[0] and quantiles[-1] <= float(row[3]) < 255
    assert 0.05 < float(rows["real pairs"][4]) <= 0.125  # about a tenth of 32 crops lie above their own q90
    assert float(rows["real pairs"][5]) < 0 < float(rows["real pairs"][6])  # the real noisy crops are darker
    assert abs(float(rows["nlf"][6])) < float(rows["real pairs"][6])  # a symmetric noise is hardly darker


def test_phone_replicates_picks_the_lowest_validation_mse_per_group_and_keeps_the_histories(tmp_path):
    replicates = _load_benchmark("phone_replicates")
    scores: dict = {s: {} for s in replicates.SETS}
    runs = {}
    for label, (mses, psnr) in {
        "real#0": ([3.0, 2.0], 28.0),
        "real#1": ([2.5, 2.2], 27.0),
        "flow#0": ([4.0], 26.0),
    }.items():
        folder = tmp_path / label.replace("#", "-")
        folder.mkdir()
        history = [{"step": 10 * (i + 1), "val_mse": m, "val_psnr": 30.0, "elapsed_s": 1.0} for i, m in enumerate(mses)]
        (folder / "history.json").write_text(json.dumps([{"step": 0, "note": "no validation"}, *history]))
        (folder / "run.json").write_text(json.dumps({"options": {"seed": int(label[-1])}}))
        runs[label] = folder
        for s in replicates.SETS:
            scores[s][label] = {"psnr": psnr}
    scores[replicates.SETS[0]]["ref"] = scores[replicates.SETS[1]]["ref"] = {"psnr": 28.5}
    summary = replicates.summarise(runs, scores, {"before": "ref"})
    picks = replicates.picks(summary)
    assert {g: run["label"] for g, run in picks.items()} == {"real": "real#0", "flow": "flow#0"}
    assert picks["real"]["best_step"] == 20 and len(picks["real"]["history"]) == 2  # the validations only
    table = replicates.markdown(summary)
    assert (
        "| **real#0** (picked) | 20000.000 (step 20) | 28.00 | 28.00 |" in table
        and "| before |  | 28.50 | 28.50 |" in table
    )
    assert "| real: mean (std) of 2 |  | 27.50 (0.71) | 27.50 (0.71) |" in table and "flow: mean" not in table


def test_phone_replicates_rank_correlation_shares_ranks_between_ties():
    replicates = _load_benchmark("phone_replicates")
    assert replicates.ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert replicates.spearman([1, 2, 3, 4], [10, 20, 25, 90]) == pytest.approx(1.0)
    assert replicates.spearman([1, 2, 3, 4], [9, 5, 4, 1]) == pytest.approx(-1.0)
    assert replicates.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_phone_replicates_redraws_the_committed_gpu_runs():
    summary = ROOT / "docs" / "runs" / "phone_gpu_replicates.json"
    replicates = _load_benchmark("phone_replicates")
    picks = replicates.picks(json.loads(summary.read_text()))
    assert {g: run["seed"] for g, run in picks.items()} == {"real": 4, "flow": 5}  # the released phone DnCNNs
    table = replicates.markdown(json.loads(summary.read_text()))
    assert (
        "- flow: Spearman (best validation MSE, PSNR) held-out PolyU + CC15 -0.50, sidd-dev (unseen family) -0.71"
        in table
    )


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_device_noise_stats_reports_the_cpu_row_without_a_gpu(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "device_noise_stats.py"), "--noise", "nlf"]
    command += ["--device", "cpu", "--batches", "2", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "device_noise.json").read_text())
    assert list(stats) == ["cpu"] and stats["cpu"]["crops"] == 32
    assert stats["cpu"]["std_p10"] <= stats["cpu"]["std_p50"] <= stats["cpu"]["std_p90"] and stats["cpu"]["std"] > 1


def test_naflow_draws_pairs_each_draw_and_counts_the_draws_nas_wins():
    draws = _load_benchmark("naflow_draws")
    nlf, rank1, nas = draws.MODELS
    summary = draws.summarise({"set": {nlf: [0.2, 0.4], rank1: [0.1, 0.3], nas: [0.15, 0.2]}})["set"]
    assert summary[nas]["mean"] == pytest.approx(0.175) and summary[nas]["std"] == pytest.approx(0.0354, abs=1e-4)
    versus_rank1 = summary[f"{nas} - {rank1}"]  # per draw: +0.05, -0.1
    assert versus_rank1["mean"] == pytest.approx(-0.025) and versus_rank1["wins"] == 1
    assert versus_rank1["stderr"] == pytest.approx(0.075)  # stdev 0.106 over sqrt(2) draws
    assert summary[f"{nas} - {nlf}"]["wins"] == 2 and summary[f"{nas} - {nlf}"]["draws"] == 2
    images = {"a": {m: [0.1, 0.2] for m in draws.MODELS}, "b": {m: [0.3, 0.6] for m in draws.MODELS}}
    assert draws.set_means({"set": images})["set"][nas] == pytest.approx([0.2, 0.4])  # per draw, over the images


@pytest.mark.skipif(not _have_data(), reason="needs the shared data (../shared/data or $NOISEAUG_DATA)")
def test_naflow_draws_shares_the_latent_draw_of_nas_and_rank1(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "naflow_draws.py"), "--limit", "1", "--draws", "2"]
    command += ["--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "naflow_draws.json").read_text())
    assert list(report["summary"]) == ["held-out PolyU + CC15", "sidd-dev (unseen family)"]
    assert [len(images) for images in report["kld"].values()] == [1, 1]
    for images in report["posterior_top3"].values():  # the largest three weights, largest first
        weights = list(next(iter(images.values())).values())
        assert len(weights) == 3 and weights == sorted(weights, reverse=True) and 0 < sum(weights) <= 1 + 1e-6
    for images in report["kld"].values():
        for per_model in images.values():
            assert all(len(v) == 2 and v[0] != v[1] and all(0 < k < 5 for k in v) for v in per_model.values())
    # at temperature 0 the two rows are one model on one latent: their difference is exactly zero
    result = subprocess.run([*command, "--posterior-temperature", "0"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for entry in json.loads((tmp_path / "naflow_draws.json").read_text())["summary"].values():
        assert entry["NAFlow (NAS) - NAFlow (Rank-1)"]["mean"] == 0.0
