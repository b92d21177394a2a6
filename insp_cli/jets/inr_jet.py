"""Jets of any INR backbone that has them, looked up in the registry (``inr/registry.JETS``): SIRENs at any
points (``derivative_network.py``), FFNs and ReLU MLPs at any points (``ffn_jet.py``), O-INRs at the points of
their grid (``oinr_jet.py``).

A backbone without registered jets (WIRE, MFN: fitting and comparison only) is one clear error.
"""

from __future__ import annotations

import torch

import insp_cli.jets.derivative_network  # noqa: F401  (registers SIREN jets)
import insp_cli.jets.ffn_jet  # noqa: F401  (registers FFN and ReLU MLP jets)
import insp_cli.jets.oinr_jet  # noqa: F401  (registers O-INR jets)
from insp_cli.errors import InspError
from insp_cli.inr.backbones import name_of
from insp_cli.inr.registry import BACKBONES, JETS, kind_of


def inr_jet(spec, params: torch.Tensor, coords: torch.Tensor, order: int,
            affine: tuple[torch.Tensor, torch.Tensor] | None = None, chunk_size: int | None = None) -> torch.Tensor:
    """D^alpha Phi, |alpha| <= order, of N INRs at coords (Q, m) or (N, Q, m): (N, M, Q, C), in the units of the
    [-1, 1] coordinates. SIREN: ``siren_jet`` (affine: x -> A x + t); FFN / ReLU MLP: ``mlp_jet`` (same
    contract); O-INR: ``oinr_jet`` (derivatives with respect to a shift of the sampling grid) read at the
    requested grid points."""
    jet = JETS.get(kind_of(spec))
    if jet is None:
        names = sorted(b.name for k, b in BACKBONES.items() if k in JETS)  # not in the order modules were imported
        with_jets = ", ".join(names[:-1]) + " or " + names[-1]
        raise InspError(f"{name_of(spec)} INRs have no jets in insp (fitting and comparison only); INSP-Net filters "
                        f"and INSP-ConvNet take {with_jets} stores")
    return jet(spec, params, coords, order, affine=affine, chunk_size=chunk_size)

