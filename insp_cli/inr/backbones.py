"""The INR backbones ``insp`` fits, behind one interface: SIREN (the default), O-INR, WIRE, MFN, FFN and ReLU.

Each backbone module registers itself into ``registry.BACKBONES`` (spec type, forward, init, settings -> spec,
optional hand-written gradient); this module imports them all and offers the calls every caller uses, looked up
by the spec's ``kind`` (no per-backbone branch here or anywhere else). A store header's ``architecture`` is
``spec.to_dict()``; its ``kind`` picks the backbone ("siren" when absent: stores written before backbones existed).
A new backbone is one module that registers (plus conf/model/<kind>.yaml and its import below).
"""

from __future__ import annotations

import torch

from . import siren, oinr, wire, mfn, ffn  # noqa: F401, I001  (each registers its backbone, in this order)
from .ffn import FFNSpec, ReluSpec
from .mfn import MFNSpec
from .oinr import OINRSpec, oinr_widths  # noqa: F401  (oinr_widths: public, re-exported)
from .registry import BACKBONES, Backbone, backbone_of, kind_of  # noqa: F401
from .siren import SirenSpec
from .wire import WireSpec

Spec = SirenSpec | OINRSpec | WireSpec | MFNSpec | FFNSpec | ReluSpec
KINDS = tuple(BACKBONES)
SPECS: dict[str, type] = {k: b.spec for k, b in BACKBONES.items()}
NAMES: dict[str, str] = {k: b.name for k, b in BACKBONES.items()}


def spec_from_dict(d: dict) -> Spec:
    """A store header's ``architecture`` -> its spec. Raises ValueError (one line) for an unknown kind."""
    if not isinstance(d, dict):
        raise TypeError(f"architecture must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind", "siren")
    if kind not in BACKBONES:
        raise ValueError(f"unknown INR architecture kind {kind!r} (this insp knows {', '.join(KINDS)})")
    return BACKBONES[kind].spec.from_dict(d)


def name_of(spec) -> str:
    """'SIREN', 'O-INR', ..."""
    return backbone_of(spec).name


def describe(spec) -> str:
    """One human line: 'SIREN 3x64 omega0 30', 'O-INR 40->64-128-128-64->3 3x3 on 128x128', ..."""
    return spec.describe()


def forward(spec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N INRs of any backbone: params (N, P), coords (Q, m) or (N, Q, m) -> (N, Q, out_features)."""
    return backbone_of(spec).forward(spec, params, coords)


def init_inrs(spec, generators: list[torch.Generator], device="cpu") -> torch.Tensor:
    """One INR per generator, row i drawn from generators[i] alone: (N, P)."""
    init = backbone_of(spec).init
    return torch.cat([init(spec, 1, generator=g) for g in generators]).to(device)


def mse_and_grad(spec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-INR mean squared error (N,) and its gradient (N, P): the backbone's hand-written backward pass where
    it has one (SIREN), autograd otherwise (same contract as ``siren_mse_and_grad``)."""
    own = backbone_of(spec).mse_and_grad
    if own is not None:
        return own(spec, params, coords, targets, mask)
    p = params.detach().requires_grad_(True)
    with torch.enable_grad():
        diff = forward(spec, p, coords) - targets  # (N, Q, c)
        if mask is None:
            mse = diff.pow(2).mean((1, 2))
        else:
            m = mask.to(diff.dtype)
            mse = (diff.pow(2) * m.unsqueeze(-1)).sum((1, 2)) / (m.sum(1).clamp_min(1) * diff.shape[2])
        (grad,) = torch.autograd.grad(mse.sum(), p)
    return mse.detach(), grad


def with_width(spec, width: int):
    """The same architecture at another width: SIREN/WIRE/MFN/FFN/ReLU ``hidden``; O-INR scales every layer of its
    ``widths`` by width / max(widths) (so 64-128-128-64 at width 32 is 16-32-32-16)."""
    return backbone_of(spec).with_width(spec, width)


def match_params(spec, budget: int, max_width: int = 4096):
    """The spec at the width whose parameter count is closest to ``budget`` (ties: the smaller width)."""
    if budget < 1:
        raise ValueError(f"a parameter budget must be positive, got {budget}")
    best, best_gap = None, None
    for w in range(1, max_width + 1):
        s = with_width(spec, w)
        gap = abs(s.num_params - budget)
        if best_gap is None or gap < best_gap:
            best, best_gap = s, gap
        if s.num_params > budget:
            break
    return best


def spec_from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> Spec:
    """A plain dict of model settings (conf/model/*.yaml) -> the spec for m-D signals with c channels on a grid
    ``shape``. ``params`` (a parameter budget), when set, replaces the width by the one matching it."""
    model = dict(model)
    kind = str(model.get("kind") or "siren")
    if kind not in BACKBONES:
        raise ValueError(f"unknown model.kind {kind!r} (choose from {', '.join(KINDS)})")
    spec = BACKBONES[kind].from_cfg(model, m, c, shape)
    budget = model.get("params")
    return spec if budget in (None, "", 0) else match_params(spec, int(budget))
