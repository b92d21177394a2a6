"""The INR backbones ``insp`` fits, behind one interface: SIREN (the default), O-INR, WIRE, MFN, FFN and ReLU.

Every backbone is a frozen spec dataclass (``kind``, ``in_features``, ``out_features``, ``num_params``,
``layout``, ``to_dict``/``from_dict``, ``pointwise``) with a batched functional forward on params (N, P) and an
initialisation that draws one INR per generator. A store header's ``architecture`` is ``spec.to_dict()``; its
``kind`` picks the backbone ("siren" when absent: stores written before backbones existed).
"""

from __future__ import annotations

from typing import Callable

import torch

from .ffn import FFNSpec, ReluSpec, init_params as mlp_init, mlp_forward
from .mfn import MFNSpec, init_params as mfn_init, mfn_forward
from .oinr import OINRSpec, init_params as oinr_init, oinr_forward
from .siren import SirenSpec, init_params as siren_init, siren_forward, siren_mse_and_grad
from .wire import WireSpec, init_params as wire_init, wire_forward

Spec = SirenSpec | OINRSpec | WireSpec | MFNSpec | FFNSpec | ReluSpec
SPECS: dict[str, type] = {"siren": SirenSpec, "oinr": OINRSpec, "wire": WireSpec, "mfn": MFNSpec, "ffn": FFNSpec,
                          "relu": ReluSpec}
FORWARD: dict[str, Callable] = {"siren": siren_forward, "oinr": oinr_forward, "wire": wire_forward,
                                "mfn": mfn_forward, "ffn": mlp_forward, "relu": mlp_forward}
INIT: dict[str, Callable] = {"siren": siren_init, "oinr": oinr_init, "wire": wire_init, "mfn": mfn_init,
                             "ffn": mlp_init, "relu": mlp_init}
KINDS = tuple(SPECS)
NAMES = {"siren": "SIREN", "oinr": "O-INR", "wire": "WIRE", "mfn": "MFN", "ffn": "FFN", "relu": "ReLU MLP"}


def kind_of(spec) -> str:
    return getattr(spec, "kind", "siren")


def spec_from_dict(d: dict) -> Spec:
    """A store header's ``architecture`` -> its spec. Raises ValueError (one line) for an unknown kind."""
    if not isinstance(d, dict):
        raise TypeError(f"architecture must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind", "siren")
    if kind not in SPECS:
        raise ValueError(f"unknown INR architecture kind {kind!r} (this insp knows {', '.join(KINDS)})")
    return SPECS[kind].from_dict(d)


def describe(spec) -> str:
    """One human line: 'SIREN 3x64 omega0 30', 'O-INR 40->64-128-128-64->3 3x3 on 128x128', ..."""
    if kind_of(spec) == "siren":
        return f"SIREN {spec.depth}x{spec.hidden} omega0 {spec.omega0:g}"
    return spec.describe()


def forward(spec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N INRs of any backbone: params (N, P), coords (Q, m) or (N, Q, m) -> (N, Q, out_features)."""
    return FORWARD[kind_of(spec)](spec, params, coords)


def init_inrs(spec, generators: list[torch.Generator], device="cpu") -> torch.Tensor:
    """One INR per generator, row i drawn from generators[i] alone: (N, P)."""
    init = INIT[kind_of(spec)]
    return torch.cat([init(spec, 1, generator=g) for g in generators]).to(device)


def mse_and_grad(spec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-INR mean squared error (N,) and its gradient (N, P): SIREN's hand-written backward pass, autograd for
    the other backbones (same contract as ``siren_mse_and_grad``)."""
    if kind_of(spec) == "siren":
        return siren_mse_and_grad(spec, params, coords, targets, mask)
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
    if kind_of(spec) == "oinr":
        top = max(spec.widths)
        widths = tuple(max(1, round(w * width / top)) for w in spec.widths)
        return OINRSpec(**{**spec.__dict__, "widths": widths})
    return type(spec)(**{**spec.__dict__, "hidden": int(width)})


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


def oinr_widths(hidden: int, depth: int) -> tuple[int, ...]:
    """The public O-INR's shape at any size: narrow ends, wide middle (hidden 128, depth 4: 64-128-128-64)."""
    if depth < 1 or hidden < 1:
        raise ValueError(f"O-INR needs depth >= 1 and hidden >= 1, got depth {depth}, hidden {hidden}")
    if depth == 1:
        return (hidden,)
    half = max(1, hidden // 2)
    return (half,) + (hidden,) * (depth - 2) + (half,)


def spec_from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> Spec:
    """A plain dict of model settings (conf/model/*.yaml) -> the spec for m-D signals with c channels on a grid
    ``shape``. ``params`` (a parameter budget), when set, replaces the width by the one matching it."""
    model = dict(model)
    kind = str(model.get("kind") or "siren")
    if kind not in SPECS:
        raise ValueError(f"unknown model.kind {kind!r} (choose from {', '.join(KINDS)})")
    hidden, depth = int(model["hidden"]), int(model["depth"])
    if kind == "siren":
        spec = SirenSpec(in_features=m, out_features=c, hidden=hidden, depth=depth, omega0=float(model["omega0"]),
                         coord_scale=float(model.get("coord_scale") or 1.0))
    elif kind == "oinr":
        if m != 2 or len(shape) != 2:
            raise ValueError(f"O-INR represents 2-D images on their grid, not {m}-D signals")
        widths = model.get("widths") or oinr_widths(hidden, depth)
        spec = OINRSpec(size=tuple(shape), out_features=c, widths=tuple(widths),
                        frequencies=int(model.get("frequencies", 10)), kernel=int(model.get("kernel", 3)))
    elif kind == "ffn":
        spec = FFNSpec(in_features=m, out_features=c, hidden=hidden, depth=depth, features=int(model["features"]),
                       sigma=float(model["sigma"]), b_seed=int(model.get("b_seed") or 0))
    elif kind == "relu":
        spec = ReluSpec(in_features=m, out_features=c, hidden=hidden, depth=depth)
    elif kind == "wire":
        spec = WireSpec(in_features=m, out_features=c, hidden=hidden, depth=depth, omega0=float(model["omega0"]),
                        sigma0=float(model["sigma0"]))
    else:
        spec = MFNSpec(in_features=m, out_features=c, hidden=hidden, depth=depth,
                       input_scale=float(model["input_scale"]))
    budget = model.get("params")
    return spec if budget in (None, "", 0) else match_params(spec, int(budget))
