"""INSP-ConvNet's training step compiled (what `insp classify` runs with compile=true) against the same step eager.

One batch of SIRENs (3x32, omega0 10, 28x28 grid) and its order-L*K input jet, computed once; then
forward + backward to the network's weights, timed eagerly and through torch.compile(dynamic=False) in the
same process. Prints the median of the last 5 of 7 steps for each, and the ratio.

    python scripts/bench_convnet_compiled.py                     # width 64, batch 128, orders (2, 2) and (2, 1, 1)
    python scripts/bench_convnet_compiled.py --batch 32 --width 16
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch


def step_seconds(f, jet, coords, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f(jet, coords).square().sum().backward()
        times.append(time.perf_counter() - t)
    return statistics.median(times[2:])  # the first steps compile (and warm the caches)


def main() -> None:
    from insp_cli.classifiers.convnet import InspConvNet
    from insp_cli.jets import grid_spacing
    from insp_cli.inr.siren import SirenSpec, grid_coords, init_params

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    warnings.filterwarnings("ignore")
    spec = SirenSpec(2, 1, hidden=32, depth=3, omega0=10)
    params = init_params(spec, a.batch, generator=torch.Generator().manual_seed(0))
    coords = grid_coords((28, 28))
    print(f"batch {a.batch}, width {a.width}, pool 7, {torch.get_num_threads()} threads; forward + backward")
    for layers, order in [(2, 2), (3, (2, 1, 1))]:
        torch.manual_seed(0)
        net = InspConvNet(1, 10, grid_spacing((28, 28)), layers=layers, order=order, width=a.width, pool=7)
        jet = net.input_jet(spec, params, coords)
        net.calibrate(jet)
        eager = step_seconds(net, jet, coords)
        compiled = step_seconds(torch.compile(net, dynamic=False), jet, coords)
        print(f"  orders {list(net.orders)}: eager {eager:.3f} s, compiled {compiled:.3f} s, "
              f"{eager / compiled:.2f}x")


if __name__ == "__main__":
    main()
