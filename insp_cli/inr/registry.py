"""The one registry of INR backbones: each backbone module (``siren.py``, ``oinr.py``, ``wire.py``, ``mfn.py``)
registers a ``Backbone`` when imported, and jets modules attach the jets of the backbones that have them.

A backbone is a frozen spec dataclass (``kind``, ``in_features``/``out_features``, ``num_params``, ``layout``,
``to_dict``/``from_dict``, ``describe``) plus the functions below. Nothing outside this file and the backbone
modules tests a backbone's name: callers look the spec's backbone up (``backbone_of``) and call its fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

BACKBONES: dict[str, "Backbone"] = {}
JETS: dict[str, Callable] = {}  # kind -> jet(spec, params, coords, order, affine, chunk_size): (N, M, Q, C)


def _hidden_width(spec, width: int):
    return replace(spec, hidden=int(width))


@dataclass(frozen=True)
class Backbone:
    """One INR backbone.

    forward(spec, params (N, P), coords (Q, m) | (N, Q, m)) -> (N, Q, out_features);
    init(spec, n, generator=None) -> (N, P);
    from_cfg(model: dict, m, c, shape) -> spec (conf/model/<kind>.yaml settings for m-D signals, c channels);
    mse_and_grad(spec, params, coords, targets, mask) -> (mse (N,), grad (N, P)), None: autograd on forward;
    with_width(spec, width) -> the same architecture at another width (default: ``hidden``);
    regularisable: fit.reg (TV, L2, AIR, INRR) runs on it.
    """

    kind: str
    name: str  # the human name: "SIREN", "O-INR", ...
    spec: type
    forward: Callable
    init: Callable
    from_cfg: Callable
    mse_and_grad: Callable | None = None
    with_width: Callable = field(default=_hidden_width)
    regularisable: bool = False


class SpecDict:
    """``to_dict`` / ``from_dict`` of a frozen spec dataclass whose class attribute ``kind`` names its backbone
    (the store header's ``architecture``; tuples as lists, as JSON keeps them), and the check every MLP-like
    spec starts with."""

    def to_dict(self) -> dict:
        return {"kind": self.kind, **{k: _plain(v) for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**{k: v for k, v in d.items() if k != "kind"})

    def check_sizes(self, what: str) -> None:
        """ValueError unless in_features, out_features, hidden and depth are >= 1."""
        if self.in_features < 1 or self.out_features < 1 or self.hidden < 1 or self.depth < 1:
            raise ValueError(f"invalid {what} architecture: in_features, out_features, hidden and depth must be "
                             f">= 1, got {self.in_features}, {self.out_features}, {self.hidden}, {self.depth}")


@dataclass(frozen=True)
class MLPSpec(SpecDict):
    """The fields and check every MLP-like backbone's spec starts with (``title`` names it in errors); a subclass
    redeclares a default it changes and adds its own fields after these."""

    in_features: int = 2
    out_features: int = 1
    hidden: int = 64
    depth: int = 3

    kind = ""
    title = ""
    pointwise = True

    def __post_init__(self):
        self.check_sizes(self.title)


def _plain(v):
    return [_plain(x) for x in v] if isinstance(v, (tuple, list)) else v


def register(backbone: Backbone) -> Backbone:
    BACKBONES[backbone.kind] = backbone
    return backbone


def register_jet(kind: str, jet: Callable) -> Callable:
    JETS[kind] = jet
    return jet


def kind_of(spec) -> str:
    return getattr(spec, "kind", "siren")


def backbone_of(spec) -> Backbone:
    return BACKBONES[kind_of(spec)]
