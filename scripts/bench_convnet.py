"""INSP-ConvNet on jets vs the same network on nested autograd: time, peak memory, agreement of the logits.

Both run one training step's worth of work, forward + backward to the network's weights, on the same batch of
INRs with the same weights (App. C builds the network the nested-autograd way: "we recursively call for
gradient networks of the previous layer"). The jets version includes computing the input jet of the INRs.
Each side runs in its own process so that its peak resident memory (and on CUDA its peak allocation) is its own.

    python scripts/bench_convnet.py                       # 8 random SIRENs 3x32, 28x28 grid, L=2, K=2, width 8
    python scripts/bench_convnet.py --store stores/mnist-test-2k --batch 16 --width 16 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _setup(a):
    """The batch and the network, built once and shared by both sides through a file."""
    from insp_cli.classifiers.convnet import InspConvNet
    from insp_cli.jets import grid_spacing
    from insp_cli.inr.siren import SirenSpec, grid_coords, init_params

    if a.store:
        from insp_cli.inr.store import INRStore

        store = INRStore.open(a.store)
        spec, params, size = store.spec, store.params[:a.batch], store.size
    else:
        spec = SirenSpec(in_features=2, out_features=a.channels, hidden=32, depth=3)
        params, size = init_params(spec, a.batch, generator=torch.Generator().manual_seed(0)), (a.side, a.side)
    torch.manual_seed(0)
    net = InspConvNet(spec.out_features, 10, grid_spacing(size), layers=a.layers, order=a.order, width=a.width)
    coords = grid_coords(size)
    net.calibrate(net.input_jet(spec, params, coords))
    return {"spec": spec.to_dict(), "size": list(size), "params": params, "coords": coords, "net": net.state_dict()}


def worker(a) -> None:
    """One side of the comparison; writes {seconds, peak_mib, logits} to a.result."""
    from insp_cli.classifiers.convnet import InspConvNet
    from insp_cli.jets import grid_spacing
    from insp_cli.inr.siren import SirenSpec

    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    dtype = torch.float64 if a.float64 else torch.float32
    state = torch.load(a.setup, weights_only=True)
    spec = SirenSpec.from_dict(state["spec"])
    net = InspConvNet(spec.out_features, 10, grid_spacing(tuple(state["size"])), layers=a.layers,
                      order=a.order, width=a.width)
    net.load_state_dict(state["net"])
    net = net.to(device, dtype)
    params, coords = state["params"].to(device, dtype), state["coords"].to(device, dtype)

    def step():
        net.zero_grad(set_to_none=True)
        if a.worker == "jets":
            logits = net(net.input_jet(spec, params, coords), coords)
        else:
            logits = net.forward_autograd(spec, params, coords)
        logits.sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return logits.detach()

    base = _peak_rss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, logits = [], None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        logits = step()
        times.append(time.perf_counter() - t0)
        if sum(times) > a.budget:
            break
    # the first run pays one-off costs (index tables, allocator warm-up): drop it when there are others
    kept = times[1:] if len(times) > 2 else times
    out = {"seconds": statistics.median(kept), "runs": len(kept),
           "peak_mib": (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                        else _peak_rss_mib() - base),
           "logits": logits.cpu().double().tolist()}
    Path(a.result).write_text(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="INR store to take the batch from (default: randomly initialised SIRENs)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--side", type=int, default=28, help="grid side for random SIRENs")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--order", type=int, default=2)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=120.0, help="stop repeating a side after this many seconds")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--float64", action="store_true", help="compare in float64 (default float32)")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--worker", choices=["jets", "autograd"], help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--setup", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        setup = os.path.join(tmp, "setup.pt")
        torch.save(_setup(a), setup)
        for side in ("jets", "autograd"):
            path = os.path.join(tmp, f"{side}.json")
            cmd = [sys.executable, __file__, "--worker", side, "--result", path, "--setup", setup]
            for k in ("layers", "order", "width", "repeats", "budget", "threads", "device"):
                if getattr(a, k) is not None:
                    cmd += [f"--{k}", str(getattr(a, k))]
            cmd += ["--float64"] if a.float64 else []
            subprocess.run(cmd, check=True)
            res[side] = json.loads(Path(path).read_text())
    lj, la = torch.tensor(res["jets"].pop("logits")), torch.tensor(res["autograd"].pop("logits"))
    diff = (lj - la).abs().max().item()
    speed = res["autograd"]["seconds"] / res["jets"]["seconds"]
    summary = {
        "setup": {"batch": a.batch, "layers": a.layers, "order": a.order, "input_order": a.layers * a.order,
                  "width": a.width, "store": a.store, "device": a.device,
                  "dtype": "float64" if a.float64 else "float32", "threads": torch.get_num_threads()
                  if not a.threads else a.threads},
        "jets": res["jets"], "autograd": res["autograd"], "speedup": speed,
        "memory_ratio": res["autograd"]["peak_mib"] / max(res["jets"]["peak_mib"], 1e-9),
        "logits_max_abs_diff": diff, "logits_max_abs": la.abs().max().item(),
    }
    print(f"INSP-ConvNet L={a.layers} K={a.order} (input order {a.layers * a.order}), width {a.width}, "
          f"{a.batch} INRs, {a.device}, {summary['setup']['dtype']}, forward + backward:")
    for side in ("jets", "autograd"):
        r = res[side]
        print(f"  {side:9s} {r['seconds']:9.3f} s (median of {r['runs']})   peak {r['peak_mib']:9.1f} MiB")
    print(f"  speed-up {speed:.1f}x, memory {summary['memory_ratio']:.1f}x less; "
          f"logits max |diff| {diff:.2e} (max |logit| {summary['logits_max_abs']:.3f})")
    if a.out:
        Path(a.out).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
