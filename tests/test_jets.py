"""Closed-form jets vs nested autograd (float64), the jet ops vs autograd of the composed functions, errors.

Error metric (``jet_relative_error``): for each multi-index alpha, max |jet - ref| over INRs, points and
channels divided by max |ref| of that same D^alpha; the test bound is on the worst alpha.
"""

import math

import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.inr.siren import SirenSpec, init_params, pixel_spacing, siren_forward
from insp_cli.jets import (
    JetStandardizer,
    derivative_combination,
    jet_affine,
    jet_affine_coords,
    jet_channel_mix,
    jet_leaky_relu,
    jet_relu,
    jet_shift,
    jet_sin,
    jet_size,
    jet_space,
    siren_jet,
    to_pixel_units,
    truncate,
)
from insp_cli.jets.reference import autograd_derivatives, jet_relative_error, nested_autograd_jet, siren_jet_reference

F64 = torch.float64


def make(m, n=2, out=2, hidden=16, depth=3, q=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    spec = SirenSpec(in_features=m, out_features=out, hidden=hidden, depth=depth)
    params = init_params(spec, n, generator=g, dtype=F64)
    coords = torch.rand(q, m, generator=g, dtype=F64) * 2 - 1
    return spec, params, coords


def random_affine(n, m, seed=1):
    g = torch.Generator().manual_seed(seed)
    a = torch.eye(m, dtype=F64) * 0.8 + 0.3 * torch.randn(n, m, m, generator=g, dtype=F64)
    return a, 0.2 * torch.randn(n, m, generator=g, dtype=F64)


def test_graded_order_and_sizes():
    assert jet_space(2, 2).names == ("f", "fx", "fy", "fxx", "fxy", "fyy")
    assert jet_space(3, 1).names == ("f", "fx", "fy", "fz")
    assert jet_space(1, 3).names == ("f", "fx", "fxx", "fxxx")
    assert jet_space(3, 2).alphas[4:] == ((2, 0, 0), (1, 1, 0), (1, 0, 1), (0, 2, 0), (0, 1, 1), (0, 0, 2))
    for m in (1, 2, 3):
        for k in range(6):
            space = jet_space(m, k)
            assert space.size == math.comb(k + m, m) == len(set(space.alphas))
            assert list(space.degrees) == sorted(space.degrees)
    assert jet_space(2, 3).factorials[jet_space(2, 3).index[(2, 1)]] == 2


@pytest.mark.parametrize("m", [1, 2, 3])
def test_siren_jet_matches_nested_autograd(m):
    spec, params, coords = make(m, out=3 - (m == 3), q=10 - 2 * m)  # nested autograd of order 4 is slow
    k = 4
    ref = siren_jet_reference(spec, params, coords, k)
    jet = siren_jet(spec, params, coords, k)
    assert jet.shape == (2, jet_size(m, k), 10 - 2 * m, 3 - (m == 3)) and jet.dtype == F64
    assert jet_relative_error(jet, ref) <= 1e-6
    for lower in range(k):  # every lower order is the prefix (graded order)
        assert torch.allclose(siren_jet(spec, params, coords, lower), truncate(ref, jet_space(m, k), lower),
                              rtol=1e-9, atol=1e-9 * ref.abs().max().item())
    # the order-0 entry is the INR itself
    assert torch.allclose(jet[:, 0], siren_forward(spec, params, coords), atol=1e-12)


def test_compiled_jets_match_nested_autograd_with_gradients():
    """The torch.compile path (what the CLI runs) gives the same jets and the same parameter gradients."""
    from insp_cli.jets import compile_enabled, set_compile

    spec, params, coords = make(2, n=3, q=9)
    ref = siren_jet_reference(spec, params, coords, 4)
    eager_p = params.clone().requires_grad_()
    siren_jet(spec, eager_p, coords, 4).square().sum().backward()
    set_compile(True)
    try:
        assert compile_enabled()
        p = params.clone().requires_grad_()
        jet = siren_jet(spec, p, coords, 4)
        jet.square().sum().backward()
        assert compile_enabled(), "torch.compile failed and fell back to eager"
    finally:
        set_compile(False)
    assert jet_relative_error(jet.detach(), ref) <= 1e-6
    assert torch.allclose(p.grad, eager_p.grad, rtol=1e-9, atol=1e-9 * eager_p.grad.abs().max().item())


def test_float32_and_per_inr_coords():
    spec, params, coords = make(2, n=3)
    ref = siren_jet_reference(spec, params, coords, 3)
    jet32 = siren_jet(spec, params.float(), coords.float(), 3)
    assert jet32.dtype == torch.float32 and jet_relative_error(jet32, ref) <= 1e-4
    batched = siren_jet(spec, params, coords.expand(3, -1, -1), 3)
    assert torch.allclose(batched, siren_jet(spec, params, coords, 3), rtol=0, atol=0)


def test_affine_coords_match_autograd_of_transformed_inr():
    spec, params, coords = make(2)
    a, t = random_affine(2, 2)
    jet = siren_jet(spec, params, coords, 3, affine=(a, t))
    assert jet_relative_error(jet, siren_jet_reference(spec, params, coords, 3, affine=(a, t))) <= 1e-6
    # same numbers from the jet of Phi sampled at A x + t, re-expressed in x
    moved = coords @ a.transpose(1, 2) + t[:, None]
    assert jet_relative_error(jet_affine_coords(siren_jet(spec, params, moved, 3), jet_space(2, 3), a), jet) <= 1e-9


def test_chunking_gives_identical_results():
    spec, params, coords = make(2, q=23)
    whole = siren_jet(spec, params, coords, 3, chunk_size=23)
    for chunk in (1, 5, 22):
        # equal up to rounding only: BLAS blocks a bmm differently for different row counts
        assert jet_relative_error(siren_jet(spec, params, coords, 3, chunk_size=chunk), whole) <= 1e-12


def composed_check(m, order, op_jet, op_fn, bound=1e-6):
    """op applied to the jet of Phi vs nested autograd of the function op(Phi)."""
    spec, params, coords = make(m, q=5, hidden=12)
    phi = lambda x: siren_forward(spec, params, x)  # noqa: E731
    got = op_jet(siren_jet(spec, params, coords, order))
    ref = nested_autograd_jet(lambda x: op_fn(phi(x)), coords.expand(2, -1, -1), order)
    assert got.shape == ref.shape
    assert jet_relative_error(got, ref) <= bound


def test_pointwise_ops_match_autograd():
    g = torch.Generator().manual_seed(3)
    scale, shift = torch.randn(2, 2, generator=g, dtype=F64), torch.randn(2, 2, generator=g, dtype=F64)
    w, b = torch.randn(3, 2, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)
    sp = jet_space(2, 3)
    composed_check(2, 3, jet_relu, lambda y: torch.relu(y))
    composed_check(2, 3, lambda j: jet_leaky_relu(j, 0.2), lambda y: torch.nn.functional.leaky_relu(y, 0.2))
    composed_check(2, 3, lambda j: jet_sin(3 * j, sp), lambda y: torch.sin(3 * y))
    composed_check(1, 4, lambda j: jet_sin(j, jet_space(1, 4)), lambda y: torch.sin(y))
    composed_check(2, 3, lambda j: jet_affine(j, scale, shift), lambda y: y * scale[:, None] + shift[:, None])
    composed_check(2, 3, lambda j: jet_channel_mix(j, w, b), lambda y: y @ w.t() + b)


def test_shift_and_derivative_combination_match_autograd():
    spec, params, coords = make(2, q=4, hidden=12)
    phi = lambda x: siren_forward(spec, params, x)  # noqa: E731
    space = jet_space(2, 4)
    jet = siren_jet(spec, params, coords, 4)
    x = coords.expand(2, -1, -1)
    # D^(1,1) Phi, then its own jet up to order 2
    fxy = lambda x: autograd_derivatives(phi, x, 2)[:, 4]  # noqa: E731
    assert jet_relative_error(jet_shift(jet, space, (1, 1), 2), nested_autograd_jet(fxy, x, 2)) <= 1e-6
    # depthwise INSP-Conv of order 2 (theta per channel), output up to order 2
    theta = torch.randn(2, 6, generator=torch.Generator().manual_seed(4), dtype=F64)
    conv = lambda x: torch.einsum("ca,namc->nmc", theta, autograd_derivatives(phi, x, 2))  # noqa: E731
    got = derivative_combination(jet, space, theta, 2)
    assert jet_relative_error(got, nested_autograd_jet(conv, x, 2)) <= 1e-6
    # one INSP-ConvNet layer: conv -> instance-norm-like affine -> ReLU -> 1x1 mix -> sin, order 1 out
    scale, shift = torch.rand(2, 2, dtype=F64) + 0.5, torch.randn(2, 2, dtype=F64)
    w = torch.randn(3, 2, dtype=F64)

    def layer(x):
        return torch.sin(torch.relu(conv(x) * scale[:, None] + shift[:, None]) @ w.t())

    y = derivative_combination(jet, space, theta, 1)
    y = jet_sin(jet_channel_mix(jet_relu(jet_affine(y, scale, shift)), w), jet_space(2, 1))
    assert jet_relative_error(y, nested_autograd_jet(layer, x, 1)) <= 1e-6


def test_gradient_wrt_params_is_a_directional_derivative():
    spec, params, coords = make(2, q=9)
    g = torch.Generator().manual_seed(5)
    v = torch.randn(params.shape, generator=g, dtype=F64)
    weights = torch.randn(2, 10, 9, 2, generator=g, dtype=F64)

    def loss(p, chunk):
        jet = siren_jet(spec, p, coords, 3, chunk_size=chunk)
        return (jet_sin(jet * 1e-3, jet_space(2, 3)) * weights).sum()

    for chunk in (None, 4):
        p = params.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(p, chunk), p)
        eps = 1e-6
        numeric = (loss(params + eps * v, chunk) - loss(params - eps * v, chunk)) / (2 * eps)
        assert abs((grad * v).sum().item() - numeric.item()) <= 1e-6 * abs(numeric.item())


def test_pixel_units_match_finite_differences():
    spec, params, _ = make(2, n=1, out=1, seed=7)
    h = pixel_spacing(2001)  # fine grid: central differences are then accurate to ~(omega0 h)^2
    x0 = torch.tensor([[0.3, -0.2]], dtype=F64)
    jet = to_pixel_units(siren_jet(spec, params, x0, 2), jet_space(2, 2), h)[0, :, 0, 0]
    f = lambda dx, dy: siren_forward(spec, params, x0 + torch.tensor([dx, dy], dtype=F64) * h)[0, 0, 0]  # noqa
    assert abs((f(1, 0) - f(-1, 0)) / 2 - jet[1]) <= 1e-2 * abs(jet[1])
    assert abs((f(0, 1) - f(0, -1)) / 2 - jet[2]) <= 1e-2 * abs(jet[2])
    assert abs(f(1, 0) - 2 * f(0, 0) + f(-1, 0) - jet[3]) <= 1e-2 * abs(jet[3])
    assert torch.allclose(to_pixel_units(torch.ones(1, 6, 1, 1), jet_space(2, 2), (2.0, 3.0)).flatten(),
                          torch.tensor([1, 2, 3, 4, 6, 9.0]))


def test_standardizer_streams_and_round_trips():
    spec, params, coords = make(2, n=4)
    jet = siren_jet(spec, params, coords, 2)
    whole = JetStandardizer().fit(jet)
    streamed = JetStandardizer().fit([jet[:1], jet[1:3], jet[3:]])
    assert torch.allclose(whole.mean, streamed.mean) and torch.allclose(whole.std, streamed.std)
    z = whole.apply(jet)
    flat = z.transpose(0, 1).reshape(6, -1, 2)
    assert flat.mean(dim=1).abs().max() < 1e-10 and (flat.std(dim=1, unbiased=False) - 1).abs().max() < 1e-10
    restored = JetStandardizer.from_state_dict({k: v.clone() for k, v in whole.state_dict().items()})
    assert torch.allclose(restored.undo(z), jet)
    assert all(isinstance(v, torch.Tensor) for v in whole.state_dict().values())


def test_errors_are_one_line_insp_errors():
    spec, params, coords = make(2)
    space = jet_space(2, 2)
    jet = siren_jet(spec, params, coords, 2)
    cases = [
        lambda: siren_jet(spec, params, coords, -1),
        lambda: siren_jet(spec, params, coords[:, :1], 2),
        lambda: siren_jet(spec, params, torch.zeros(3, 5, 2, dtype=F64), 2),
        lambda: siren_jet(spec, params, coords, 4, max_bytes=2**16),
        lambda: siren_jet(spec, params, coords, 100),
        lambda: jet_shift(jet, space, (2, 0), 1),
        lambda: derivative_combination(jet, space, torch.zeros(2, 5, dtype=F64), 0),
        lambda: derivative_combination(jet, space, torch.zeros(2, 6, dtype=F64), 1),
        lambda: jet_affine_coords(jet, space, torch.eye(3, dtype=F64).expand(2, 3, 3)),
        lambda: JetStandardizer().apply(jet),
    ]
    for case in cases:
        with pytest.raises(InspError) as info:
            case()
        assert "\n" not in str(info.value)
    with pytest.raises(InspError, match="MiB"):
        siren_jet(spec, params, coords, 4, max_bytes=2**16)


def test_compile_switch_follows_the_config(monkeypatch):
    """`compile=` of every command reaches the jets; INSP_COMPILE sets its default (the tests run eagerly)."""
    from insp_cli.config import compose, jets_compile
    from insp_cli.jets import compile_enabled, set_compile

    try:
        assert compose("classify", [])["compile"] is False  # conftest: INSP_COMPILE=false
        jets_compile(compose("classify", ["compile=true"]))
        assert compile_enabled()
        jets_compile(compose("train_filter", ["compile=false", "store=x"]))
        assert not compile_enabled()
        monkeypatch.setenv("INSP_COMPILE", "true")
        assert compose("classify", [])["compile"] is True
    finally:
        set_compile(False)
