"""O-INR jets (derivatives with respect to a shift of the sampling grid) against nested autograd at K = 3."""

import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.inr.backbones import init_inrs
from insp_cli.inr.oinr import OINRSpec, oinr_forward
from insp_cli.inr.siren import grid_coords
from insp_cli.jets.oinr_jet import encoding_jet, oinr_jet
from insp_cli.jets.reference import jet_relative_error, oinr_jet_reference

SPEC = OINRSpec(size=(6, 5), out_features=2, widths=(4, 5, 3), frequencies=3)


def _params(dtype):
    # x3 the initialisation: larger pre-activations exercise the sine recurrence's higher terms
    return init_inrs(SPEC, [torch.Generator().manual_seed(i) for i in range(2)]).to(dtype) * 3


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_oinr_jet_equals_nested_autograd_at_order_3(dtype, tol):
    params = _params(dtype)
    ref = oinr_jet_reference(SPEC, params.double(), 3)
    jet = oinr_jet(SPEC, params, 3)
    assert jet.shape == (2, 10, 30, 2) and jet.dtype == dtype
    assert jet_relative_error(jet, ref) < tol
    assert ref[:, 9].abs().max() > 1e3  # third derivatives are large: the comparison is not of zeros
    assert torch.allclose(jet[:, 0], oinr_forward(SPEC, params, grid_coords((6, 5), dtype=dtype)), atol=1e-5)


def test_oinr_jet_on_a_shifted_grid_and_the_encoding():
    params = _params(torch.float64)
    shifted = grid_coords((6, 5), dtype=torch.float64) + torch.tensor([0.013, -0.02], dtype=torch.float64)
    err = jet_relative_error(oinr_jet(SPEC, params, 2, shifted), oinr_jet_reference(SPEC, params, 2, shifted))
    assert err < 1e-9
    # the encoding's first x-derivative: d/dt sin(pi (x + t)) = pi cos(pi x), nothing along y
    c = grid_coords((6, 5), dtype=torch.float64)
    e = encoding_jet(SPEC, c, 1)  # (3, 12, 30)
    assert torch.allclose(e[1, 0], torch.pi * torch.cos(torch.pi * c[:, 0])) and e[1, 6:].abs().max() == 0
    assert torch.allclose(e[2, 6], torch.pi * torch.cos(torch.pi * c[:, 1])) and e[2, :6].abs().max() == 0


def test_oinr_jet_bad_input():
    params = _params(torch.float64)
    with pytest.raises(InspError, match="6x5 grid only"):
        oinr_jet(SPEC, params, 1, grid_coords((5, 5), dtype=torch.float64))
    with pytest.raises(InspError, match="must be \\(N, "):
        oinr_jet(SPEC, params[:, :-1], 1)
