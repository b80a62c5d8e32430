"""The simulated camera: noise statistics vs the analytic NLF, row noise, determinism, exact likelihood."""

import math

import pytest
import torch

from noiseaug.conditioning import NoiseCondition
from noiseaug.data.camera import SimulatedCamera
from noiseaug.data.sensor import SIDD_NLF, SIDD_SENSORS, SIM_ISOS, SIM_SENSORS, sidd_nlf
from noiseaug.noise.base import gaussian_log_prob

CAMERAS = [s.name for s in SIM_SENSORS]


@pytest.mark.parametrize("camera", CAMERAS)
def test_flat_patch_variance_matches_analytic_nlf(camera):
    """Full model (row, FPN, quantization, clipping): Var = beta1 * x + beta2 within 5 % at every ISO."""
    sim = SimulatedCamera()
    g = torch.Generator().manual_seed(CAMERAS.index(camera))
    for iso in SIM_ISOS:
        cond = sim.condition(camera, iso, batch=2)
        beta1, beta2 = sim.nlf(cond)
        for level in (0.1, 0.4):
            clean = torch.full((2, 4, 128, 128), level)
            noisy = sim.add_noise(clean, cond, g)
            measured = noisy.double().var(dim=(1, 2, 3))
            expected = beta1.double() * level + beta2.double()
            assert torch.allclose(measured, expected, rtol=0.05), (camera, iso, level, measured, expected)
            assert torch.allclose(
                noisy.double().mean(dim=(1, 2, 3)),
                torch.tensor(level, dtype=torch.float64),
                atol=4 * (expected.max() / 256).sqrt().item(),
            )  # rows: 256 per image


def test_row_noise_shows_in_row_means():
    """Row means vary by sigma_row^2 + sigma_pixel^2 / n_columns with row noise, only the latter without."""
    cond_args = ("sim-e", 3200)
    with_rows = SimulatedCamera(fixed_pattern=False)
    without = SimulatedCamera(row_noise=False, fixed_pattern=False)
    clean = torch.full((4, 4, 128, 128), 0.05)
    cond = with_rows.condition(*cond_args, batch=4)

    def row_mean_variance(noisy):  # sensor rows: packed channels (0, 1) and (2, 3) share a row
        rows = torch.cat([noisy[:, 0:2].transpose(1, 2).flatten(2), noisy[:, 2:4].transpose(1, 2).flatten(2)], 1)
        return rows.double().mean(2).var().item()

    noisy = with_rows.add_noise(clean, cond, torch.Generator().manual_seed(0))
    plain = without.add_noise(clean, cond, torch.Generator().manual_seed(0))
    cam, iso = 4, SIM_ISOS.index(3200)
    read_var = with_rows.read_std_table[cam, iso].double().item() ** 2
    pixel_var = without.nlf(cond)[0][0].item() * 0.05 + without.nlf(cond)[1][0].item()
    row_var = read_var * SIM_SENSORS[4].row_ratio ** 2
    assert row_mean_variance(noisy) == pytest.approx(row_var + pixel_var / 256, rel=0.2)
    assert row_mean_variance(plain) == pytest.approx(pixel_var / 256, rel=0.2)
    assert row_mean_variance(noisy) > 3 * row_mean_variance(plain)


def test_seeded_determinism_and_independent_captures():
    sim = SimulatedCamera()
    srgb = torch.rand(3, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    a = sim.capture(srgb, None, torch.Generator().manual_seed(7), captures=2)
    b = sim.capture(srgb, None, torch.Generator().manual_seed(7), captures=2)
    c = sim.capture(srgb, None, torch.Generator().manual_seed(8), captures=2)
    assert a.cameras == b.cameras and torch.equal(a.cond.iso, b.cond.iso)
    for x, y in zip(
        (a.clean_raw, *a.noisy_raw, a.noisy_srgb(1)), (b.clean_raw, *b.noisy_raw, b.noisy_srgb(1)), strict=True
    ):
        assert torch.equal(x, y)
    assert not torch.equal(a.noisy_raw[0], c.noisy_raw[0])
    n1, n2 = (n - a.clean_raw for n in a.noisy_pair())
    assert not torch.equal(n1, n2)
    corr = torch.corrcoef(torch.stack([n1.flatten(), n2.flatten()]))[0, 1]
    assert abs(corr) < 0.2  # only the fixed pattern and clipping are shared between captures


def test_capture_shapes_metadata_and_spaces():
    sim = SimulatedCamera()
    srgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cond = sim.condition(["sim-b", "sim-d"], [400, 1600])
    draw = sim.capture(srgb, cond, torch.Generator().manual_seed(1))
    assert draw.cameras == ("sim-b", "sim-d") and draw.isos == (400, 1600) and draw.patterns == ("BGGR", "GBRG")
    clean, noisy = draw.pair("srgb")
    assert clean.shape == noisy.shape == (2, 3, 32, 32) and 0 <= float(noisy.min()) and float(noisy.max()) <= 1
    assert draw.noisy("raw").shape == (2, 4, 16, 16)
    assert float(draw.noisy_raw[0].max()) <= 1.0
    assert float(draw.noisy_raw[0][1].min()) >= -256 / (4095 - 256) - 1e-6
    with pytest.raises(ValueError, match="captures >= 2"):
        draw.noisy_pair()
    with pytest.raises(ValueError, match="space must be"):
        draw.pair("linear")


def test_unknown_camera_or_iso_lists_the_known_ones():
    sim = SimulatedCamera()
    with pytest.raises(ValueError, match="known cameras: sim-a, sim-b"):
        sim.condition("pixel", 100)
    with pytest.raises(ValueError, match=r"known ISOs \[100, 400, 800, 1600, 3200\]"):
        sim.condition("sim-a", 200)
    with pytest.raises(ValueError, match="cond.camera must index"):
        sim.add_noise(torch.zeros(1, 4, 4, 4), NoiseCondition(iso=torch.tensor([100.0]), camera=torch.tensor([9])))
    with pytest.raises(TypeError, match="NoiseCondition with per-sample camera and iso"):
        sim.add_noise(torch.zeros(1, 4, 4, 4), NoiseCondition(iso=torch.tensor([100.0])))


def test_exact_nll_is_a_normalized_density():
    """Pixel-independent model: the exact density of one pixel integrates to 1 (dark pixel, few photons)."""
    sim = SimulatedCamera.pixel_independent()
    cond = sim.condition("sim-e", 3200)
    beta1, _ = sim.nlf(cond)
    clean_value = 2.5 * beta1.item()  # 2.5 photo-electrons expected
    grid = torch.linspace(-0.1, 0.2, 6001, dtype=torch.float64)
    noisy = grid.view(1, 1, 1, -1).expand(1, 4, 1, -1).reshape(-1, 4, 1, 1).float()
    clean = torch.full_like(noisy, clean_value)
    nll = sim.nll(noisy.double(), clean.double(), sim.condition("sim-e", 3200, batch=grid.numel()))
    density = torch.exp(-nll.double())  # per pixel: the 4 channels are equal, so exp(-nll) is one pixel's density
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-3)


def test_exact_nll_matches_gaussian_approximation_at_high_counts_and_beats_wrong_models():
    sim = SimulatedCamera.pixel_independent()
    cond = sim.condition(["sim-a", "sim-c"], [1600, 3200])
    clean = 0.2 + 0.6 * torch.rand(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    noisy = sim.add_noise(clean, cond, torch.Generator().manual_seed(1))
    exact = sim.nll(noisy, clean, cond)
    beta1, beta2 = sim.nlf(cond)
    variance = beta1.view(-1, 1, 1, 1) * clean + beta2.view(-1, 1, 1, 1)
    gauss = -gaussian_log_prob(noisy - clean, variance) / clean[0].numel()
    assert exact.shape == (2,)
    assert torch.allclose(exact.float(), gauss, atol=2e-3)
    wrong = -gaussian_log_prob(noisy - clean, 2 * variance) / clean[0].numel()
    assert (exact.float() < wrong).all()
    with pytest.raises(ValueError, match="pixel-independent"):
        SimulatedCamera().nll(noisy, clean, cond)


def test_nlf_values_are_in_brooks_range():
    sim = SimulatedCamera()
    beta1, beta2 = sim.nlf(sim.condition(CAMERAS * len(SIM_ISOS), [i for i in SIM_ISOS for _ in CAMERAS]))
    assert beta1.min() >= 1e-4 - 1e-9 and beta1.max() <= 1.2e-2
    assert (beta2 > 0).all() and math.isfinite(beta2.sum().item())


# ------------------------------------------------------------------------------ the SIDD phone presets
SIDD_CAMERAS = [s.name for s in SIDD_SENSORS]


def test_simulated_cameras_are_unchanged_by_the_sidd_presets():
    """The five simulated cameras keep their tables, indices and draws (the released weights were trained on them)."""
    sim = SimulatedCamera()
    assert sim.cameras == ("sim-a", "sim-b", "sim-c", "sim-d", "sim-e")
    for k, spec in enumerate(SIM_SENSORS):
        for j, iso in enumerate(SIM_ISOS):
            beta1 = spec.beta1_base * iso / 100
            assert sim.beta1_table[k, j].item() == pytest.approx(beta1, rel=1e-6)
            read_var = math.exp(2.18 * math.log(beta1) + 1.2 + spec.read_offset)
            assert sim.read_std_table[k, j].item() == pytest.approx(math.sqrt(read_var), rel=1e-6)
    both = SimulatedCamera(SIM_SENSORS + SIDD_SENSORS)
    assert both.cameras[:5] == sim.cameras and both.cameras[5:] == tuple(SIDD_CAMERAS)
    cond = sim.condition(["sim-a", "sim-e"], [100, 3200])
    clean = torch.rand(2, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(
        sim.add_noise(clean, cond, torch.Generator().manual_seed(3)),
        both.add_noise(clean, cond, torch.Generator().manual_seed(3)),
    )


def test_sidd_presets_reproduce_sidds_calibrated_noise_levels():
    sim = SimulatedCamera.sidd_phones()
    assert sim.cameras == ("sidd-ip", "sidd-gp", "sidd-s6", "sidd-n6", "sidd-g4")
    assert len(SIDD_NLF) == 15
    for (phone, iso), (beta1, beta2) in SIDD_NLF.items():
        got1, got2 = sim.nlf(sim.condition(f"sidd-{phone.lower()}", iso))
        assert got1.item() == pytest.approx(beta1, rel=1e-6) and got2.item() == pytest.approx(beta2, rel=1e-5)
    # the pairs SIDD did not calibrate follow the phone's power law in ISO: S6 (calibrated at every ISO) is
    # near-linear in ISO, and every phone's slope grows with ISO except the iPhone's (flat in SIDD's table)
    for phone in ("GP", "N6", "G4"):
        b = [sidd_nlf(phone, iso)[0] for iso in SIM_ISOS]
        assert b == sorted(b) and not all(sidd_nlf(phone, iso)[2] for iso in SIM_ISOS)
    assert max(sidd_nlf("IP", i)[0] for i in SIM_ISOS) / min(sidd_nlf("IP", i)[0] for i in SIM_ISOS) < 1.1


@pytest.mark.parametrize("camera", SIDD_CAMERAS)
def test_sidd_preset_flat_patch_variance_matches_its_nlf(camera):
    sim = SimulatedCamera.sidd_phones()
    g = torch.Generator().manual_seed(SIDD_CAMERAS.index(camera))
    for iso in (100, 800, 3200):
        cond = sim.condition(camera, iso, batch=2)
        beta1, beta2 = sim.nlf(cond)
        clean = torch.full((2, 4, 96, 96), 0.2)
        measured = sim.add_noise(clean, cond, g).double().var(dim=(1, 2, 3))
        assert torch.allclose(measured, beta1.double() * 0.2 + beta2.double(), rtol=0.05), (camera, iso)
