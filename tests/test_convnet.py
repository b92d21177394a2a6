"""INSP-ConvNet on jets is the same network as the one built with nested autograd; its layers do what the paper's
Algorithm 1 says; the baselines' models have the right shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from insp_cli.classifiers.depthwise_cnn import DepthwiseCNN
from insp_cli.classifiers.weight_space import WeightMLP, WeightStandardizer, pca_svm
from insp_cli.classifiers.convnet import InspConvNet, jet_activation, random_affines
from insp_cli.errors import InspError
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.jets import grid_spacing, jet_space, siren_jet
from insp_cli.jets.reference import nested_autograd_jet


def _inrs(n: int, channels: int = 1, seed: int = 0):
    spec = SirenSpec(in_features=2, out_features=channels, hidden=16, depth=2)
    return spec, init_params(spec, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("layers,order,width,channels,augment,pool,activation", [
    (2, 2, 2, 1, True, 4, "relu"), (2, 1, 2, 3, False, 2, "softplus"), (3, 1, 1, 1, False, 1, "relu"),
    (3, (2, 1, 1), 2, 1, True, 2, "relu")])
def test_jets_network_equals_nested_autograd(layers, order, width, channels, augment, pool, activation):
    """Logits AND gradients w.r.t. every weight agree with the nested-autograd network (float64)."""
    torch.manual_seed(1)
    spec, params = _inrs(2, channels)
    coords = grid_coords(5, dtype=torch.float64)
    net = InspConvNet(channels, 5, grid_spacing((28, 28)), layers=layers, order=order, width=width,
                      pool=pool, activation=activation).double()
    net.calibrate(net.input_jet(spec, params, coords))
    affine = None
    if augment:
        a, t = random_affines(2, rotation=30, zoom=0.2, translate=0.1, generator=torch.Generator().manual_seed(3))
        affine = (a.double(), t.double())
    jets = net(net.input_jet(spec, params, coords, affine=affine), coords)
    ref = net.forward_autograd(spec, params, coords, affine=affine)
    assert jets.shape == ref.shape == (2, 5)
    assert (jets - ref).abs().max() < 1e-10 * max(1.0, ref.abs().max().item())
    g_jets = torch.autograd.grad(jets.square().sum(), list(net.parameters()))
    g_ref = torch.autograd.grad(ref.square().sum(), list(net.parameters()))
    for a, b in zip(g_jets, g_ref):
        assert (a - b).abs().max() <= 1e-8 * max(1e-3, b.abs().max().item())
    assert any(g.abs().max() > 1e-6 for g in g_jets[:-2])  # the conv weights really receive gradient
    orders = [order] * layers if isinstance(order, int) else list(order)
    assert [c.order for c in net.convs] == orders and net.input_order == sum(orders)


@pytest.mark.parametrize("name, fn", [("softplus", torch.nn.functional.softplus), ("relu", torch.relu)])
def test_activation_jets_match_nested_autograd(name, fn):
    spec, params = _inrs(2)
    coords = grid_coords(6, dtype=torch.float64)
    jet = siren_jet(spec, params, coords, 4) * 3  # * 3: values on both sides of ReLU's kink
    ref = nested_autograd_jet(lambda x: fn(3 * siren_forward(spec, params, x)), coords.expand(2, -1, -1), 4)
    got = jet_activation(jet, jet_space(2, 4), name)
    scale = ref.abs().amax(dim=(0, 2, 3)).clamp_min(1e-12)
    assert ((got - ref).abs().amax(dim=(0, 2, 3)) / scale).max() < 1e-10


def test_layer_output_is_instance_normalised_jet_of_lower_order():
    """Layer l maps a jet of order (L-l+1) K to one of order (L-l) K; before ReLU the value has zero mean and
    unit variance over the points (per sample and channel) and every derivative is scaled by the same 1/sigma."""
    torch.manual_seed(0)
    spec, params = _inrs(3)
    coords = grid_coords(9, dtype=torch.float64)
    net = InspConvNet(1, 10, grid_spacing((9, 9)), layers=2, order=2, width=4).double()
    jet = net.input_jet(spec, params, coords)
    assert jet.shape == (3, jet_space(2, 4).size, 81, 1)
    conv = net.convs[0]
    z = conv.pre_norm(jet, order_out=2)
    assert z.shape == (3, jet_space(2, 2).size, 81, 4)
    conv.activation = None
    y = conv(jet, order_out=2)
    conv.activation = "relu"
    assert y[:, 0].mean(dim=1).abs().max() < 1e-10
    var = z[:, 0].var(dim=1, unbiased=False)
    assert torch.allclose(y[:, 0].var(dim=1, unbiased=False), var / (var + 1e-5), atol=1e-10)  # eps of InstanceNorm
    ratio = y[:, 1:] / z[:, 1:]
    assert torch.allclose(ratio, ratio[:, :1, :1].expand_as(ratio), atol=1e-9)  # one constant per sample/channel
    r = conv(jet, order_out=2)  # ReLU: the jet of u where u > 0, zero (value and derivatives) elsewhere
    off = (y[:, :1] <= 0).expand_as(y)
    assert torch.all(r[off] == 0) and torch.equal(r[~off], y[~off])


def test_evaluation_points_are_a_set():
    """The network sees a set of points: permuting them changes nothing; any number of points works."""
    torch.manual_seed(0)
    spec, params = _inrs(2)
    net = InspConvNet(1, 10, grid_spacing((28, 28)), layers=2, order=1, width=4, pool=3).double()
    coords = grid_coords(12, dtype=torch.float64)
    perm = torch.randperm(coords.shape[0])
    a = net(net.input_jet(spec, params, coords), coords)
    b = net(net.input_jet(spec, params, coords[perm]), coords[perm])
    assert (a - b).abs().max() < 1e-12
    random_points = torch.rand(37, 2, dtype=torch.float64) * 2 - 1
    assert net(net.input_jet(spec, params, random_points), random_points).shape == (2, 10)
    with pytest.raises(InspError, match="coordinates"):
        net(net.input_jet(spec, params, coords))


def test_axis_order_keeps_a_pixel_kernels_moments_and_matches_nested_autograd():
    """order 2 with axis_order 1: f, fx, fy, fxy (a 2 x 2 kernel's moments), never fxx or fyy."""
    torch.manual_seed(2)
    spec, params = _inrs(2)
    coords = grid_coords(5, dtype=torch.float64)
    net = InspConvNet(1, 5, grid_spacing((28, 28)), layers=2, order=2, width=2, pool=2, axis_order=1).double()
    assert net.convs[0].alpha_mask.tolist() == [1, 1, 1, 0, 1, 0]  # f fx fy fxx fxy fyy
    net.calibrate(net.input_jet(spec, params, coords))
    jets = net(net.input_jet(spec, params, coords), coords)
    ref = net.forward_autograd(spec, params, coords)
    assert (jets - ref).abs().max() < 1e-10 * max(1.0, ref.abs().max().item())
    g = torch.autograd.grad(jets.sum(), net.convs[1].theta)[0]
    assert g[..., 3].abs().max() == 0 and g[..., 5].abs().max() == 0 and g[..., 4].abs().max() > 0
    assert "alpha_mask" not in net.state_dict()  # derived from the configuration, not saved


def test_per_layer_orders_must_match_the_layers():
    with pytest.raises(InspError, match="an order >= 1 per layer"):
        InspConvNet(1, 10, grid_spacing((28, 28)), layers=3, order=(2, 1))


def test_cell_pooling_averages_each_cell():
    net = InspConvNet(1, 10, grid_spacing((28, 28)), pool=2, width=1)
    coords = torch.tensor([[-0.9, -0.9], [-0.1, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.9, 0.9], [0.2, 0.2]])
    feats = torch.tensor([1.0, 3.0, 5.0, 7.0, 10.0, 20.0]).view(1, 6, 1)
    # cells row-major with x fastest: (x<0, y<0), (x>0, y<0), (x<0, y>0), (x>0, y>0)
    assert net.pooled(feats, coords).tolist() == [[2.0, 5.0, 7.0, 15.0]]


def test_random_affines_are_rotations_times_zoom():
    a, t = random_affines(500, rotation=15, zoom=0.1, translate=0.05, generator=torch.Generator().manual_seed(0))
    scale = torch.sqrt(torch.det(a))
    assert scale.min() >= 0.9 - 1e-6 and scale.max() <= 1.1 + 1e-6 and scale.max() - scale.min() > 0.15
    eye = a @ a.transpose(1, 2) / scale[:, None, None] ** 2
    assert torch.allclose(eye, torch.eye(2).expand_as(eye), atol=1e-5)
    angle = torch.rad2deg(torch.atan2(a[:, 1, 0], a[:, 0, 0]))
    assert angle.abs().max() <= 15 + 1e-4 and angle.abs().max() > 13
    assert t.abs().max() <= 0.05
    a0, t0 = random_affines(3)
    assert torch.allclose(a0, torch.eye(2).expand(3, 2, 2)) and torch.all(t0 == 0)


def test_memory_estimate_grows_with_order_and_bad_settings_fail():
    small = InspConvNet(1, 10, grid_spacing((28, 28)), layers=2, order=2, width=32)
    big = InspConvNet(1, 10, grid_spacing((28, 28)), layers=2, order=6, width=32)
    assert big.activation_bytes(128, 784) > 3 * small.activation_bytes(128, 784)
    with pytest.raises(InspError, match="layers >= 1"):
        InspConvNet(1, 10, grid_spacing((28, 28)), layers=0)
    with pytest.raises(InspError, match="expects an input jet"):
        small(torch.zeros(2, 6, 10, 1), grid_coords(4)[:10])


def test_depthwise_cnn_mirrors_the_convnet():
    net = DepthwiseCNN(3, 10, layers=2, kernel_size=3, width=12, pool=4)
    assert net(torch.rand(5, 3, 32, 32)).shape == (5, 10) and net.head.in_features == 12 * 16
    depthwise = [m for m in net.body if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert [m.groups for m in depthwise] == [3, 12] and depthwise[0].out_channels == 12


def test_weight_space_baselines_run_on_weight_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 40)).astype(np.float32)
    y = (np.arange(60) % 2).astype(np.int64)
    x[:, :10] += 2.0 * y[:, None]  # a label written into many weights: PCA keeps it, the SVM finds it
    clf = pca_svm(x[:40], y[:40], components=8)
    assert (clf.predict(x[40:]) == y[40:]).mean() >= 0.9
    std = WeightStandardizer(torch.from_numpy(x[:40]))
    z = std(torch.from_numpy(x[:40]))
    assert torch.allclose(z.mean(0), torch.zeros(40), atol=1e-5) and torch.allclose(z.std(0), torch.ones(40), atol=1e-4)
    assert WeightMLP(40, 2, hidden=8)(z).shape == (40, 2)
    assert math.isclose(float(std(torch.from_numpy(x[:1]))[0, 0]), float(z[0, 0]), rel_tol=1e-6)


def test_weight_mlp_input_noise_in_training_only():
    """classifier.noise: N(0, noise^2) added to the standardised inputs while training, nothing at evaluation."""
    torch.manual_seed(0)
    mlp = WeightMLP(4, 2, hidden=8, depth=1, dropout=0.0, noise=0.5)
    mlp.net = torch.nn.Identity()  # see the inputs as the layers would
    x = torch.zeros(20000, 4)
    assert torch.equal(mlp.eval()(x), x)
    got = mlp.train()(x)
    assert abs(float(got.std()) - 0.5) < 0.01 and abs(float(got.mean())) < 0.01


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_label_smoothing_sets_the_floor_of_the_training_loss(tmp_path, eps):
    """Two separable classes: plain cross-entropy falls towards 0; label-smoothed (eps) it cannot go below the
    entropy of the smoothed target (1 - eps/2, eps/2): 0.325 nats at eps = 0.2."""
    from insp_cli.classifiers.kinds import Classifier, Inputs
    from insp_cli.classifiers.trainer import Settings, train_classifier

    torch.manual_seed(0)
    y = (np.arange(64) % 2).astype(np.int64)
    x = torch.from_numpy(np.where(y[:, None] == 1, 3.0, -3.0).astype(np.float32)).repeat(1, 4)
    mlp = WeightMLP(4, 2, hidden=16, depth=1, dropout=0.0)
    clf = Classifier(mlp, mlp, lambda store: (lambda rows, affine: x[torch.as_tensor(rows)]), 16, "test vectors")
    data = Inputs(None, clf.make(None), False, 16, "x")
    s = Settings(epochs=40, batch_size=16, lr=3e-2, weight_decay=0.0, lr_schedule="constant", seed=0,
                 label_smoothing=eps)
    preds, history, _ = train_classifier(s, clf, data, data, y, y, "cpu", tmp_path, None, "fp", lambda r, k: None)
    floor = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) if eps else 0.0
    assert (preds == y).all()
    assert floor - 1e-4 <= history[-1]["train_loss"] < floor + 0.02, history[-1]
