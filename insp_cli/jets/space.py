"""Multi-indices of the distinct partial derivatives up to order K, and their cached index tables.

Graded order (the layout of axis M of every jet): total degree ascending, and within one degree the
exponent tuples in lexicographically DESCENDING order. For m = 2, K = 2: f, fx, fy, fxx, fxy, fyy.
Coordinate 0 is x (image columns), 1 is y (rows), 2 is z, as in ``insp_cli.inr.siren.grid_coords``.
Because degrees are contiguous, truncating a jet to a lower order is a prefix slice.
"""

from __future__ import annotations

import itertools
import math
from itertools import accumulate

import torch

from insp_cli.errors import InspError

# Above this many multi-indices the product tables alone get large; no realistic INSP order gets near it.
MAX_JET_SIZE = 5000
_AXIS_NAMES = "xyz"


def jet_size(m: int, order: int) -> int:
    """M = C(order + m, m), the number of distinct partials D^alpha with |alpha| <= order."""
    return math.comb(order + m, m)


def block_size(m: int, degree: int) -> int:
    """Number of multi-indices of one exact total degree: C(degree + m - 1, m - 1)."""
    return math.comb(degree + m - 1, m - 1)


def _degree_block(m: int, degree: int) -> list[tuple[int, ...]]:
    """All alpha in N^m with |alpha| = degree, lexicographically descending."""
    if m == 1:
        return [(degree,)]
    out = []
    for first in range(degree, -1, -1):
        out += [(first, *rest) for rest in _degree_block(m - 1, degree - first)]
    return out


class JetSpace:
    """Index tables for jets of functions R^m -> R^C truncated at total order K.

    Build through ``jet_space(m, order)`` (cached). Attributes:
      alphas: tuple of M exponent tuples in graded order; index: alpha -> position;
      degrees: |alpha| per position; offsets: degree d occupies positions offsets[d]:offsets[d+1];
      factorials: alpha! per position; names: "f", "fx", "fxy", ... (m <= 3).
    """

    def __init__(self, m: int, order: int):
        if m < 1:
            raise InspError(f"input dimension must be >= 1, got {m}")
        if order < 0:
            raise InspError(f"derivative order must be >= 0, got {order}")
        if jet_size(m, order) > MAX_JET_SIZE:
            raise InspError(f"order {order} in {m} dimensions has {jet_size(m, order)} partial derivatives "
                            f"(limit {MAX_JET_SIZE}); lower the order")
        self.m, self.order = m, order
        blocks = [_degree_block(m, d) for d in range(order + 1)]
        self.alphas = tuple(a for block in blocks for a in block)
        self.size = len(self.alphas)
        self.index = {a: i for i, a in enumerate(self.alphas)}
        self.degrees = tuple(sum(a) for a in self.alphas)
        self.offsets = tuple(accumulate([0] + [len(b) for b in blocks]))
        self.factorials = tuple(math.prod(math.factorial(k) for k in a) for a in self.alphas)
        self.names = tuple(self._name(a) for a in self.alphas)
        self._cache: dict = {}

    def __repr__(self) -> str:
        return f"JetSpace(m={self.m}, order={self.order}, M={self.size})"

    def __eq__(self, other) -> bool:
        return isinstance(other, JetSpace) and (self.m, self.order) == (other.m, other.order)

    def __hash__(self) -> int:
        return hash((self.m, self.order))

    def _name(self, alpha: tuple[int, ...]) -> str:
        if self.m > len(_AXIS_NAMES):
            return "f_" + "_".join(map(str, alpha))
        return "f" + "".join(_AXIS_NAMES[i] * k for i, k in enumerate(alpha))

    def block(self, degree: int) -> slice:
        """Positions of the multi-indices of exactly this degree."""
        return slice(self.offsets[degree], self.offsets[degree + 1])

    def shifted(self, alpha: tuple[int, ...], order_out: int) -> list[int]:
        """Positions of alpha + beta for every beta of the order-``order_out`` space (graded order)."""
        return [self.index[tuple(a + b for a, b in zip(alpha, beta))] for beta in jet_space(self.m, order_out).alphas]

    def locate(self, alpha: tuple[int, ...]) -> tuple[int, int]:
        """(degree, position inside that degree's block) of a multi-index."""
        d = sum(alpha)
        return d, self.index[alpha] - self.offsets[d]

    def cached(self, key, build):
        """Memoise a table derived from this space (spaces are cached for the life of the process)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def products(self, degree: int) -> list[list[tuple[tuple[int, int], tuple[int, int]]]]:
        """For each multi-index gamma of this degree (block order), the Cauchy pairs alpha + beta = gamma
        with 1 <= |alpha| <= degree - 1, each as ((|alpha|, local alpha), (|beta|, local beta)).

        The pairs with alpha = 0 or beta = 0 are left out: callers treat them specially.
        """
        def build():
            return [[(self.locate(alpha), self.locate(tuple(g - a for g, a in zip(gamma, alpha))))
                     for alpha in itertools.product(*(range(k + 1) for k in gamma)) if 0 < sum(alpha) < degree]
                    for gamma in self.alphas[self.block(degree)]]
        return self.cached(("products", degree), build)

    def outer_index(self, degree: int, j: int) -> tuple[int, ...]:
        """Where the product of the degree-j block (rows) and the degree-(degree-j) block (columns) lands.

        Entry r * n_{degree-j} + c is the position, inside the degree block, of alpha_r + beta_c: the
        Cauchy product of homogeneous parts of Taylor polynomials (coefficients multiply, exponents add).
        """
        def build():
            return tuple(self.locate(tuple(x + y for x, y in zip(a, b)))[1]
                         for a in self.alphas[self.block(j)] for b in self.alphas[self.block(degree - j)])
        return self.cached(("outer", degree, j), build)

    def tensor(self, table, device, dtype=None) -> torch.Tensor:
        """Cached device copy of a table: "factorials", "degrees", "alphas" (M, m), or ("outer", d, j)."""
        def build():
            value = self.outer_index(*table[1:]) if isinstance(table, tuple) else getattr(self, table)
            return torch.tensor(value, device=device, dtype=dtype)
        return self.cached(("tensor", table, str(device), dtype), build)


_SPACES: dict[tuple[int, int], JetSpace] = {}


def jet_space(m: int, order: int) -> JetSpace:
    """The cached JetSpace of input dimension m and order K.

    A plain dict rather than functools.lru_cache: torch.compile looks through an lru_cache and traces the
    JetSpace constructor at every call (a graph break that sends whole layers back to eager), while a lookup
    in a dict of already-built spaces traces to a constant.
    """
    space = _SPACES.get((m, order))
    if space is None:
        space = _SPACES[(m, order)] = JetSpace(m, order)
    return space


def to_taylor(jet: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """Derivatives D^alpha f -> Taylor coefficients D^alpha f / alpha! along axis 1 of (N, M, ...)."""
    f = space.tensor("factorials", jet.device, jet.dtype)
    return jet / f.view(-1, *([1] * (jet.dim() - 2)))


def from_taylor(coef: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """Taylor coefficients -> derivatives (multiply by alpha!) along axis 1 of (N, M, ...)."""
    f = space.tensor("factorials", coef.device, coef.dtype)
    return coef * f.view(-1, *([1] * (coef.dim() - 2)))
