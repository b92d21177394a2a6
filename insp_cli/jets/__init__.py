"""Closed-form derivative features ("jets") of batched SIRENs and of INSP-ConvNet's pointwise layers.

A jet is a tensor (N, M, Q, C): for N functions, the M = C(K+m, m) distinct partials D^alpha (not divided
by alpha!) with |alpha| <= K, at Q points, per channel. Axis M is in graded order (``jet_space``):
m = 2, K = 2 -> f, fx, fy, fxx, fxy, fyy. See docs/jets.md.

Rooms: ``space`` (multi-indices), ``taylor`` (sin/cos recurrence), ``derivative_network`` (SIREN jets),
``ops`` (the pointwise ops INSP-ConvNet needs: linear maps, ReLU, sin, softplus, coordinate maps), ``scale``
(pixel units, standardisation) and ``reference`` (nested autograd, the slow reference every jet is tested
against; not imported here).
"""

from insp_cli.jets.derivative_network import jet_bytes_per_point, siren_jet
from insp_cli.jets.ops import (
    coordinate_map_operator,
    derivative_combination,
    jet_affine,
    jet_affine_coords,
    jet_channel_mix,
    jet_leaky_relu,
    jet_relu,
    jet_shift,
    jet_sin,
    jet_softplus,
    truncate,
)
from insp_cli.jets.scale import JetStandardizer, grid_spacing, to_pixel_units
from insp_cli.jets.space import JetSpace, from_taylor, jet_size, jet_space, to_taylor
from insp_cli.jets.taylor import compile_enabled, set_compile

__all__ = [
    "JetSpace", "JetStandardizer", "compile_enabled", "coordinate_map_operator", "derivative_combination", "from_taylor", "grid_spacing",
    "jet_affine", "jet_affine_coords", "jet_bytes_per_point", "jet_channel_mix", "jet_leaky_relu", "jet_relu",
    "jet_shift", "jet_sin", "jet_softplus", "jet_size", "jet_space", "set_compile", "siren_jet", "to_pixel_units", "to_taylor", "truncate",
]
