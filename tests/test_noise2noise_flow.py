"""Clean-free training: the neighbour sub-sampler, the three objectives' wiring, NLF recovery metric, CLI runs."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from noiseaug import NoiseCondition
from noiseaug.data import SimulatedCamera, SimulatedRawPairs
from noiseaug.data.neighbour import neighbour_subsample
from noiseaug.data.shots import NoisyPair, ShotPairs
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.imageio import write_png
from noiseaug.noise import GaussianNoise, HeteroscedasticGaussianNoise
from noiseaug.objectives.noise2noise_flow import Noise2NoiseFlow, R2RFlow
from noiseaug.recipes import RECIPES
from noiseaug.recipes.clean_free import nlf_recovery


def test_neighbour_halves_come_from_adjacent_positions_of_each_cell():
    h, w = 6, 8
    y = torch.arange(2 * 3 * h * w, dtype=torch.float32).view(2, 3, h, w)
    a, b = neighbour_subsample(y, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (2, 3, h // 2, w // 2)
    diff = (a - b).abs()
    assert ((diff == 1) | (diff == w)).all()  # same row, next column; or same column, next row
    rows, cols = (a % (h * w)) // w, a % w
    grid_r, grid_c = torch.meshgrid(torch.arange(h // 2), torch.arange(w // 2), indexing="ij")
    assert torch.equal(rows // 2, grid_r.expand_as(rows)) and torch.equal(cols // 2, grid_c.expand_as(cols))
    assert torch.equal((a[:, 1] - a[:, 0]), torch.full_like(a[:, 0], h * w))  # one choice for all channels
    a2, _ = neighbour_subsample(y, torch.Generator().manual_seed(0))
    assert torch.equal(a, a2)
    with pytest.raises(ValueError, match="even height and width"):
        neighbour_subsample(torch.zeros(1, 1, 3, 4))


class SpyNoiseModel(GaussianNoise):
    """AWGN that records which (noisy, clean estimate) pairs it is asked about."""

    def __init__(self):
        super().__init__(0.1)
        self.calls = []

    def _log_prob(self, noisy, clean, cond):
        self.calls.append((noisy, clean))
        return super()._log_prob(noisy, clean, cond)


class Shift(torch.nn.Module):
    def __init__(self, amount):
        super().__init__()
        self.amount = torch.nn.Parameter(torch.tensor(amount))

    def forward(self, x):
        return x + self.amount


def _pair():
    g = torch.Generator().manual_seed(0)
    first, second = 0.3 + 0.1 * torch.rand(2, 4, 4, 4, generator=g), 0.6 + 0.1 * torch.rand(2, 4, 4, 4, generator=g)
    return NoisyPair(first, second, NoiseCondition(iso=torch.tensor([100.0, 100.0])), g)


def test_noise2noiseflow_cross_sample_conditions_each_shot_on_the_other_denoised():
    spy, denoiser, pair = SpyNoiseModel(), Shift(0.01), _pair()
    loss = Noise2NoiseFlow(spy, denoiser, lam=2.0)(pair)
    (n1, c1), (n2, c2) = spy.calls
    assert torch.equal(n1, pair.first) and torch.allclose(c1, pair.second + 0.01)
    assert torch.equal(n2, pair.second) and torch.allclose(c2, pair.first + 0.01)
    l_dn = torch.nn.functional.mse_loss(pair.first + 0.01, pair.second) + torch.nn.functional.mse_loss(
        pair.second + 0.01, pair.first
    )
    l_nm = -sum(float(GaussianNoise(0.1)._log_prob(n, c.detach(), None).mean()) / 64 for n, c in spy.calls)
    assert loss.item() == pytest.approx(l_nm + 2.0 * l_dn.item(), rel=1e-5)


def test_self_sample_and_denoiser_only_variants():
    spy, pair = SpyNoiseModel(), _pair()
    Noise2NoiseFlow(spy, Shift(0.0), self_sample=True)(pair)
    assert torch.equal(spy.calls[0][1], pair.first) and torch.equal(spy.calls[1][1], pair.second)
    spy.calls.clear()
    loss = Noise2NoiseFlow(spy, Shift(0.0), denoiser_only=True)(pair)
    assert spy.calls == [] and loss.item() == pytest.approx(2 * float((pair.first - pair.second).square().mean()))


def test_difference_residuals_give_the_flow_the_half_pair_difference_around_an_estimate():
    spy, pair = SpyNoiseModel(), _pair()
    Noise2NoiseFlow(spy, Shift(0.01), residual="difference")(pair)
    (n1, c1), (n2, c2) = spy.calls
    half = (pair.first - pair.second) / math.sqrt(2)
    assert torch.allclose(c1, pair.second + 0.01) and torch.allclose(n1 - c1, half)
    assert torch.allclose(c2, pair.first + 0.01) and torch.allclose(n2 - c2, -half)
    spy.calls.clear()
    Noise2NoiseFlow(spy, Shift(0.01), residual="difference-mean")(pair)
    (n1, c1), (n2, c2) = spy.calls
    mean_estimate = (pair.first + pair.second) / 2 + 0.01
    assert torch.allclose(c1, mean_estimate) and torch.allclose(n1 - c1, half)
    assert torch.allclose(c2, mean_estimate) and torch.allclose(n2 - c2, -half)
    with pytest.raises(ValueError, match="residual must be one of"):
        Noise2NoiseFlow(spy, Shift(0.0), residual="clean")


class ShrinkTowards(torch.nn.Module):
    """A linear denoiser of known error: ``clean + k (noisy - clean)``."""

    def __init__(self, clean, k):
        super().__init__()
        self.clean, self.k = clean, k

    def forward(self, x):
        return self.clean + self.k * (x - self.clean)


@pytest.mark.parametrize(("residual", "low", "high"), [("difference", 0.45, 0.55), ("difference-mean", -0.03, 0.03)])
def test_only_the_mean_estimate_keeps_the_residual_size_unpredictable_from_the_conditionings_error(residual, low, high):
    """Around ``D(I2)`` the squared residual ``(n1 - n2)^2 / 2`` correlates with the squared error
    ``(k n2)^2`` (0.5 for Gaussian noise): the error tells the flow where the noise is large. Around
    ``(D(I1) + D(I2)) / 2`` the error is ``k (n1 + n2) / 2``, independent of ``n1 - n2``."""
    g = torch.Generator().manual_seed(5)
    clean = torch.full((4, 4, 64, 64), 0.5)
    pair = NoisyPair(
        clean + 0.05 * torch.randn(clean.shape, generator=g),
        clean + 0.05 * torch.randn(clean.shape, generator=g),
        NoiseCondition(),
        g,
    )
    spy = SpyNoiseModel()
    Noise2NoiseFlow(spy, ShrinkTowards(clean, 0.5), lam=0.0, residual=residual)(pair)
    noisy, given = spy.calls[0]
    squared_residual, squared_error = (noisy - given).square().flatten(), (given - clean).square().flatten()
    assert low < float(torch.corrcoef(torch.stack([squared_residual, squared_error]))[0, 1]) < high


@pytest.mark.parametrize(("residual", "best_scale"), [("denoised", 2.0), ("difference", 1.0)])
def test_difference_residual_keeps_the_denoisers_error_out_of_the_noise(residual, best_scale):
    """With the identity as denoiser (error = the noise itself), the paper's residual ``I1 - D(I2)`` has twice
    the noise variance, so an NLF twice too large scores best; the half pair difference has the true one."""
    g = torch.Generator().manual_seed(3)
    clean = 0.1 + 0.8 * torch.rand(8, 4, 32, 32, generator=g)
    truth = HeteroscedasticGaussianNoise(4e-3, 1e-4)
    pair = NoisyPair(truth.sample(clean, generator=g), truth.sample(clean, generator=g), NoiseCondition(), g)
    losses = {
        scale: float(
            Noise2NoiseFlow(
                HeteroscedasticGaussianNoise(4e-3 * scale, 1e-4 * scale),
                torch.nn.Identity(),
                lam=0.0,
                residual=residual,
            )(pair)
        )
        for scale in (0.5, 1.0, 2.0, 4.0)
    }
    assert min(losses, key=losses.get) == best_scale


class FixedNoise(GaussianNoise):
    """Sampling adds exactly +0.02: makes the recorruption visible."""

    def __init__(self):
        super().__init__(0.1)

    def _sample(self, clean, cond, generator, temperature=1.0):
        return clean + 0.02


def test_r2rflow_recorrupts_input_and_target_in_opposite_directions():
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(1.0))

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.w * x

    pair = _pair()
    loss = R2RFlow(FixedNoise(), Recorder(), lam=1.0, alpha=0.5)(pair)
    assert torch.allclose(seen[1], pair.first + 0.5 * 0.02)  # I + alpha z
    nll = -float(FixedNoise()._log_prob(pair.first, (pair.first + 0.01).clamp(0, 1), None).mean()) / 64
    l_dn = float(((pair.first + 0.01) - (pair.first - 0.02 / 0.5)).square().mean())  # D(I_in) vs I - z / alpha
    assert loss.item() == pytest.approx(nll + l_dn, rel=1e-5)


def test_r2rflow_first_batch_initialises_the_flow_to_the_noise_scale():
    camera = SimulatedCamera()
    ramp = torch.linspace(40, 200, 64)
    smooth = [(ramp[None, :, None] + 0 * ramp[None, None, :]).expand(3, 64, 64).to(torch.uint8) for _ in range(2)]
    draw = SimulatedRawPairs(smooth, camera, patch_size=16, batch_size=4, seed=0, captures=1).batch(0)
    torch.manual_seed(0)
    flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos])
    objective = R2RFlow(flow, torch.nn.Identity()).train()
    pair = NoisyPair(draw.noisy_raw[0], draw.noisy_raw[0], draw.cond, torch.Generator().manual_seed(0))
    objective(pair)
    with torch.no_grad():
        z = flow._sample(draw.clean_raw, draw.cond, torch.Generator().manual_seed(1)) - draw.clean_raw
    real = (draw.noisy_raw[0] - draw.clean_raw).std()
    assert 0.3 < float(z.std() / real) < 3  # without the initialisation: about 14x the noise
    assert all(bool(m.initialized) for m in flow.modules() if hasattr(m, "initialized"))


def _source(captures):
    images = [
        torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
        for i in range(2)
    ]
    return SimulatedRawPairs(images, SimulatedCamera(), patch_size=8, batch_size=3, seed=0, captures=captures)


class LearnableAWGN(GaussianNoise):
    """AWGN whose sigma is a trainable parameter (log scale)."""

    def __init__(self, sigma):
        super().__init__(sigma)
        self.log_sigma = torch.nn.Parameter(torch.tensor(math.log(sigma)))

    def _log_prob(self, noisy, clean, cond):
        z = (noisy - clean) / self.log_sigma.exp()
        return (-0.5 * z.square() - self.log_sigma - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)

    def _sample(self, clean, cond, generator, temperature=1.0):
        return clean + self.log_sigma.exp() * torch.randn(clean.shape, generator=generator)


class ShrinkToMean(torch.nn.Module):
    """``D(y) = mean(y) + k (y - mean(y))`` per image: the best linear denoiser of a flat image has this form."""

    def __init__(self):
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, y):
        mean = y.mean(dim=(1, 2, 3), keepdim=True)
        return mean + self.k * (y - mean)


def _r2rflow_sigma_after_training(alpha, true_sigma=0.02, start_sigma=0.1, steps=600):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    noise_model, denoiser = LearnableAWGN(start_sigma), ShrinkToMean()
    objective = R2RFlow(noise_model, denoiser, alpha=alpha)
    optimizer = torch.optim.Adam(objective.parameters(), lr=2e-2)
    for _ in range(steps):
        noisy = 0.5 + true_sigma * torch.randn(8, 1, 16, 16, generator=g)
        loss = objective(NoisyPair(noisy, noisy, NoiseCondition(), g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(noise_model.log_sigma.detach().exp()), float(denoiser.k.detach())


def test_r2rflow_noise_estimate_converges_only_for_alpha_above_one():
    """The fixed point of the joint loop (see R2RFlow's docs) attracts at alpha 2 and repels at R2R's 0.5."""
    sigma, k = _r2rflow_sigma_after_training(alpha=2.0)
    assert sigma == pytest.approx(0.02, rel=0.05) and abs(k) < 0.05  # at s = v the best D is the mean
    sigma, k = _r2rflow_sigma_after_training(alpha=0.5)
    assert sigma > 0.2 and k < -2  # k -> -1/alpha^2 = -4 as the drawn noise grows


def test_shot_pair_modes():
    pairs = ShotPairs(_source(2), "pairs", seed=7).batch(0)
    assert not torch.equal(pairs.first, pairs.second) and pairs.first.shape == (3, 4, 8, 8)
    single = ShotPairs(_source(1), "single", seed=7).batch(0)
    assert torch.equal(single.first, single.second)
    halves = ShotPairs(_source(1), "neighbour", seed=7).batch(0)
    assert halves.first.shape == (3, 4, 4, 4)
    assert torch.equal(halves.first, ShotPairs(_source(1), "neighbour", seed=7).batch(0).first)
    other = ShotPairs(_source(1), "neighbour", seed=8).batch(0)  # the sub-sampler draws from the pair source's seed
    assert not torch.equal(halves.first, other.first)
    with pytest.raises(ValueError, match="captures >= 2"):
        ShotPairs(_source(1), "pairs", seed=7)


def test_nlf_recovery_is_zero_for_the_true_parameters():
    camera = SimulatedCamera.pixel_independent()
    flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant="nlf")
    names = [c for c in camera.cameras for _ in camera.isos]
    beta1, beta2 = camera.nlf(camera.condition(names, [i for _ in camera.cameras for i in camera.isos]))
    with torch.no_grad():
        flow.layers[0].log_beta1.copy_(beta1.double().log().view(5, 5))
        flow.layers[0].log_beta2.copy_(beta2.double().log().view(5, 5))
    errors = nlf_recovery(flow, camera)
    assert max(errors.values()) < 1e-5
    with torch.no_grad():
        flow.layers[1].log_psi.add_(0.5 * math.log(1.1))  # gamma^2 = 1.1: every beta 10 % too large
    assert nlf_recovery(flow, camera)["beta1_err_mean"] == pytest.approx(0.1, rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["n2nflow", "r2rflow", "nbr2flow", "n2n"])
def test_cli_trains_each_method_and_writes_models(tmp_path, method):
    images = tmp_path / "images"
    for i in range(3):
        write_png(images / f"img{i}.png", torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(i)))
    command = [
        sys.executable,
        "-m",
        "noiseaug",
        "train",
        method,
        "--images",
        str(images),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "4",
        "--batch",
        "2",
        "--patch",
        "8",
        "--val-every",
        "4",
        "--val-batches",
        "1",
        "--denoiser-depth",
        "3",
        "--denoiser-width",
        "8",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["step"] == 4 and math.isfinite(history[-1]["val_psnr"])
    assert (tmp_path / "run" / "denoiser" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "noise_model").is_dir() == (method != "n2n")


@pytest.mark.slow
def test_cli_trains_n2nflow_with_a_residual_unet_on_pair_differences_and_reports_the_noisy_psnr(tmp_path):
    images = tmp_path / "images"
    for i in range(3):
        write_png(images / f"img{i}.png", torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(i)))
    command = [
        sys.executable,
        "-m",
        "noiseaug",
        "train",
        "n2nflow",
        "--images",
        str(images),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "4",
        "--batch",
        "2",
        "--patch",
        "8",
        "--val-every",
        "2",
        "--val-batches",
        "1",
        "--denoiser",
        "unet",
        "--denoiser-depth",
        "2",
        "--denoiser-width",
        "8",
        "--residual",
        "difference",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "denoiser" / "config.json").read_text())
    assert config == {"model_type": "unet", "channels": 4, "width": 8, "levels": 2, "residual": True}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    noisy = {entry["val_noisy_psnr"] for entry in history}
    assert len(history) == 2 and len(noisy) == 1 and math.isfinite(noisy.pop())  # one fixed bar, every validation


def test_clean_free_trainer_rejects_an_unknown_denoiser(tmp_path):
    with pytest.raises(ValueError, match=r"denoiser must be one of \['dncnn', 'unet'\], got 'resnet'"):
        RECIPES["n2nflow"].config(denoiser="resnet")


def test_difference_residual_needs_noisy_pairs_and_a_noise_model(tmp_path):
    for method in ("r2rflow", "nbr2flow", "n2n"):
        with pytest.raises(ValueError, match=f"residual 'difference' needs two shots .* got '{method}'"):
            RECIPES[method].config(residual="difference")
