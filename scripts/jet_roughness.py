"""How rough are the INRs of a store between and beyond its samples? The RMS of their derivatives of each order,
in pixel units (D^alpha times spacing^|alpha|), on the image grid and half a pixel off it, for the first N INRs of
each store named. INSP-ConvNet reads derivatives up to order layers x order (4 by default), so two stores that
decode alike can look very different to it (issue 26: meta-fitted against randomly initialised MNIST INRs).

    OMP_NUM_THREADS=1 python scripts/jet_roughness.py STORE [STORE ...] [--n 300] [--order 4]
"""

from __future__ import annotations

import argparse

import torch

from insp_cli.errors import InspError
from insp_cli.inr.siren import grid_coords, pixel_spacing
from insp_cli.inr.store import INRStore
from insp_cli.jets import jet_space
from insp_cli.jets.derivative_network import siren_jet


def grids(side: int) -> tuple[float, dict[str, torch.Tensor]]:
    """The pixel spacing and two point sets (side*side, 2): the grid, and the grid shifted half a pixel."""
    spacing, grid = pixel_spacing(side), grid_coords(side)
    return spacing, {"grid": grid, "half-pixel off": (grid + spacing / 2).clamp(-1, 1)}


def roughness(store: INRStore, n: int, order: int, side: int, jet_fn=siren_jet) -> dict[str, list[float]]:
    """RMS over the first n INRs, points and channels of the degree-d derivatives (pixel units), d = 0..order;
    ``jet_fn(spec, params (n, P), coords (Q, 2), order)`` -> (n, M, Q, C) computes the jets."""
    spacing, points = grids(side)
    degrees = torch.tensor(jet_space(2, order).degrees)
    params = store.params_at(torch.arange(min(n, len(store))))
    out = {}
    for name, coords in points.items():
        jet = jet_fn(store.header.spec, params, coords, order)  # (n, M, Q, C)
        out[name] = [(jet[:, degrees == d] * spacing ** d).pow(2).mean().sqrt().item() for d in range(order + 1)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stores", nargs="+")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--order", type=int, default=4)
    ap.add_argument("--side", type=int, default=28, help="the grid's side (MNIST: 28)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"RMS of the degree-d derivatives in pixel units, d = 0..{args.order}; first {args.n} INRs of each store")
    for path in args.stores:
        try:
            store = INRStore.open(path)
        except InspError as e:  # not a store, a corrupt shard: one line, not a traceback
            raise SystemExit(f"error: {e}") from None
        psnr = store.psnr[: args.n].mean().item()
        for name, rms in roughness(store, args.n, args.order, args.side).items():
            print(f"{path} (PSNR {psnr:.2f} dB) {name:>14}: " + "  ".join(f"{v:.3g}" for v in rms))


if __name__ == "__main__":
    main()
