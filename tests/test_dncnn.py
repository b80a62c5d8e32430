"""DnCNN: architecture, parameter count, initialisation, residual output, hub round trip."""

import json

import pytest
import torch
from torch import nn

from noiseaug.denoisers import DnCNN
from noiseaug.hub import load_pretrained


def test_output_shape_is_input_shape():
    x = torch.rand(2, 3, 20, 28)
    assert DnCNN(depth=5, width=8)(x).shape == x.shape
    assert DnCNN(channels=4, depth=3, width=8, batch_norm=False)(torch.rand(1, 4, 9, 7)).shape == (1, 4, 9, 7)


def test_parameter_count_of_dncnn_17_64():
    # first conv 3->64 with bias; 15 x (conv 64->64 without bias + BatchNorm affine weight and bias);
    # last conv 64->3 with bias. BatchNorm running statistics are buffers, not parameters.
    first = 3 * 64 * 9 + 64
    middle = 15 * (64 * 64 * 9 + 2 * 64)
    last = 64 * 3 * 9 + 3
    assert first + middle + last == 558_403
    net = DnCNN()
    assert sum(p.numel() for p in net.parameters()) == first + middle + last
    assert len([m for m in net.modules() if isinstance(m, nn.Conv2d)]) == 17


def test_layout_without_batch_norm_uses_biases():
    net = DnCNN(channels=1, depth=4, width=8, batch_norm=False)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == (9 * 8 + 8) + 2 * (8 * 8 * 9 + 8) + (8 * 9 + 1)


def test_residual_output_is_input_minus_predicted_noise():
    residual = DnCNN(depth=4, width=8).eval()
    torch.nn.init.normal_(residual.body[-1].weight, std=0.1)  # a trained-looking last layer (it starts at zero)
    plain = DnCNN(depth=4, width=8, residual=False).eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.rand(2, 3, 12, 12)
    torch.testing.assert_close(residual(x), x - plain(x), rtol=0, atol=0)
    assert not torch.equal(residual(x), x)


def test_a_fresh_residual_dncnn_is_the_identity():
    net = DnCNN(depth=4, width=8).eval()
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    assert torch.equal(net(x), x)


@pytest.mark.parametrize("index", [0, 1, -2])
def test_conv_weights_are_orthogonal(index):
    net = DnCNN(channels=3, depth=4, width=16)
    w = [m for m in net.modules() if isinstance(m, nn.Conv2d)][index].weight.detach()
    matrix = w.reshape(w.shape[0], -1)  # (out, in * 9); out <= in * 9 for every layer here
    assert matrix.shape[0] <= matrix.shape[1]
    torch.testing.assert_close(matrix @ matrix.T, torch.eye(matrix.shape[0]), rtol=0, atol=1e-5)
    biases = [m.bias for m in net.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert all(torch.equal(b, torch.zeros_like(b)) for b in biases)


def test_trains_one_step():
    net = DnCNN(channels=4, depth=3, width=8)
    x = torch.rand(2, 4, 8, 8)
    loss = nn.functional.mse_loss(net(x + 0.1 * torch.randn_like(x)), x)
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_save_and_load_round_trip(tmp_path):
    net = DnCNN(channels=4, depth=5, width=8, residual=True)
    net.train()
    net(torch.rand(4, 4, 8, 8))  # moves the BatchNorm running statistics away from their defaults
    net.eval()
    net.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == net.config
    loaded = DnCNN.from_pretrained(tmp_path)
    assert isinstance(load_pretrained(tmp_path), DnCNN) and not loaded.training
    x = torch.rand(2, 4, 8, 8)
    assert torch.equal(loaded(x), net(x))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(depth=1), ValueError),
        (dict(width=0), ValueError),
        (dict(channels=2.0), TypeError),
        (dict(batch_norm=1), TypeError),
        (dict(residual="yes"), TypeError),
    ],
)
def test_constructor_errors(kwargs, error):
    with pytest.raises(error):
        DnCNN(**kwargs)


def test_wrong_input_channels_is_an_error():
    with pytest.raises(ValueError, match=r"noisy must have 3 channels, got shape \(1, 4, 8, 8\)"):
        DnCNN(depth=3, width=4)(torch.rand(1, 4, 8, 8))


def test_unet_keeps_any_size_round_trips_and_learns(tmp_path):
    from noiseaug.denoisers import UNet
    from noiseaug.hub import load_folder, save_pretrained

    torch.manual_seed(0)
    net = UNet(channels=3, width=8, levels=2)
    x = torch.rand(2, 3, 13, 9, generator=torch.Generator().manual_seed(0))
    assert net(x).shape == x.shape
    save_pretrained(net, tmp_path / "unet")
    assert torch.equal(load_folder(tmp_path / "unet")(x), net(x))
    with pytest.raises(ValueError, match=r"noisy must have 3 channels"):
        net(torch.rand(1, 1, 8, 8))
    # a few Adam steps of Noise2Clean on a fixed batch reduce the error: the graph is trainable end to end
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(4, 3, 16, 16, generator=g)
    noisy = clean + 0.1 * torch.randn(4, 3, 16, 16, generator=g)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = None
    for _ in range(60):
        loss = (net(noisy) - clean).square().mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_residual_unet_starts_as_the_identity_and_still_learns():
    from noiseaug.denoisers import UNet

    torch.manual_seed(0)
    net = UNet(channels=4, width=8, levels=2, residual=True)
    g = torch.Generator().manual_seed(2)
    clean = torch.nn.functional.interpolate(torch.rand(4, 4, 4, 4, generator=g), size=16, mode="bilinear")  # smooth
    noisy = clean + 0.05 * torch.randn(4, 4, 16, 16, generator=g)
    assert torch.equal(net(noisy), noisy)  # zero output conv: no random residual before training
    assert not torch.equal(UNet(channels=4, width=8, levels=2)(noisy), noisy)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = float((noisy - clean).square().mean())
    for _ in range(150):
        loss = (net(noisy) - clean).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first
