"""Closed-form jets (``siren_jet``) vs nested autograd (``siren_jet_reference``): time, peak memory, accuracy.

    python scripts/bench_jets.py                   # both cases, a few minutes on 2 CPU cores
    python scripts/bench_jets.py --cases mnist     # only the 64 x 28x28 case

Same INRs and points for both methods, float32. Time: best of several runs (the machine is shared, so the
minimum is the least disturbed), as wall-clock seconds and as CPU seconds of this process (all threads;
steadier than wall time when other jobs compete for the cores); one torch thread unless --threads says
otherwise. Peak memory: each (method, order) runs once in a fresh Python process;
we report the growth of its peak resident set during that one call (Linux VmHWM, reset through
/proc/self/clear_refs just before, minus VmRSS just before): every page the call touched, output included.
Jets run twice: eagerly, and with the sin/cos recurrence compiled (``set_compile(True)``, what the CLI uses);
the compiled column is timed after its first call, whose time (the compilation) is printed apart. In the
memory child the compiled jets are first compiled on a 2-INR, 3-point input, so the peak measured is the call's,
not the compiler's. Error: ``jet_relative_error`` (max over multi-indices of max|diff| / max|reference|).
Targets: K=4 >= 10x faster with <= 1/3 of the memory; K=2 not slower; K=4 within 3x of M=15 forwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.jets import jet_size, siren_jet
from insp_cli.jets.taylor import set_compile
from insp_cli.jets.reference import jet_relative_error, siren_jet_reference

# name: (INRs, hidden, depth, grid side, orders with jets, orders with the reference as well)
CASES = {
    "mnist": (64, 32, 3, 28, (1, 2, 3, 4), (1, 2, 3, 4)),
    # one wide INR on a large grid: nested autograd beyond order 2 takes minutes here, so jets only for K=4
    "wide": (1, 256, 3, 256, (1, 2, 4), (1, 2)),
}


def setup(case: str):
    n, hidden, depth, side, _, _ = CASES[case]
    spec = SirenSpec(in_features=2, out_features=1, hidden=hidden, depth=depth)
    params = init_params(spec, n, generator=torch.Generator().manual_seed(0))
    return spec, params, grid_coords(side)


def compute(method: str, spec, params, coords, order: int) -> torch.Tensor:
    if method in ("jets", "compiled"):
        set_compile(method == "compiled")
        with torch.no_grad():
            return siren_jet(spec, params, coords, order)
    if method == "autograd":
        return siren_jet_reference(spec, params, coords, order)
    with torch.no_grad():
        return siren_forward(spec, params, coords)


def best_time(fn, budget_s: float = 3.0, max_runs: int = 7):
    """Min wall and min CPU time over runs (after one warm-up) until the budget is spent:
    returns ((wall s, cpu s), last output)."""
    out = fn()
    walls, cpus, start = [], [], time.perf_counter()
    while len(walls) < max_runs and (not walls or time.perf_counter() - start < budget_s):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return (min(walls), min(cpus)), out


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) * 1024


def child_peak(case: str, method: str, order: int) -> None:
    """Runs in a fresh process: prints the peak resident-set growth (bytes) of one call as JSON."""
    spec, params, coords = setup(case)
    if method == "compiled":  # compile on a tiny input first (dynamic shapes): measure the call, not the compiler
        compute(method, spec, params[:2], coords[:3], order)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    before = _status("VmRSS")
    compute(method, spec, params, coords, order)
    print(json.dumps({"peak": _status("VmHWM") - before}))


def peak_bytes(case: str, method: str, order: int, threads: int) -> int:
    cmd = [sys.executable, __file__, "--threads", str(threads), "--child", case, method, str(order)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    # One thread by default: on a shared machine OpenMP barriers stall whenever another job holds a core,
    # which punishes many mid-sized ops (jets) far more than few big ones (autograd); --threads 0 = torch's choice.
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0: torch's choice)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        child_peak(args.child[0], args.child[1], int(args.child[2]))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = (f"{'case':<24}{'K':>2}{'M':>4}{'autograd s':>11}{'jets s':>9}{'compiled s':>11}{'speedup':>9}"
              f"{'(compiled)':>11}{'autograd MiB':>13}{'jets MiB':>9}{'compiled MiB':>13}{'mem ratio':>10}"
              f"{'max rel err':>12}")
    for case in args.cases:
        n, hidden, depth, side, orders, ref_orders = CASES[case]
        name = f"{case} N={n} h={hidden} {side}^2"
        spec, params, coords = setup(case)
        t_fwd, _ = best_time(lambda: compute("forward", spec, params, coords, 0))
        print(f"\n{name}: one siren_forward {t_fwd[0] * 1e3:.1f} ms wall, {t_fwd[1] * 1e3:.1f} ms cpu "
              f"(times below: wall; speed-ups and memory ratios: autograd / jets, eager and compiled)")
        print(header)
        for k in orders:
            t_jet, jet = best_time(lambda: compute("jets", spec, params, coords, k))
            t0 = time.perf_counter()
            compute("compiled", spec, params, coords, k)
            t_compile = time.perf_counter() - t0
            t_cmp, cmp = best_time(lambda: compute("compiled", spec, params, coords, k))
            threads = torch.get_num_threads()
            mem_jet, mem_cmp = peak_bytes(case, "jets", k, threads), peak_bytes(case, "compiled", k, threads)
            row = f"{name:<24}{k:>2}{jet_size(2, k):>4}"
            if k in ref_orders:
                t_ref, ref = best_time(lambda: compute("autograd", spec, params, coords, k), max_runs=3)
                mem_ref = peak_bytes(case, "autograd", k, threads)
                err = max(jet_relative_error(jet, ref), jet_relative_error(cmp, ref))
                row += (f"{t_ref[0]:>11.3f}{t_jet[0]:>9.3f}{t_cmp[0]:>11.3f}{t_ref[0] / t_jet[0]:>8.1f}x"
                        f"{t_ref[0] / t_cmp[0]:>10.1f}x{mem_ref / 2**20:>13.1f}{mem_jet / 2**20:>9.1f}"
                        f"{mem_cmp / 2**20:>13.1f}{max(mem_jet, mem_cmp) / mem_ref:>10.3f}{err:>12.2e}")
            else:
                row += (f"{'skipped':>11}{t_jet[0]:>9.3f}{t_cmp[0]:>11.3f}{'':>9}{'':>11}{'skipped':>13}"
                        f"{mem_jet / 2**20:>9.1f}{mem_cmp / 2**20:>13.1f}")
            print(row + f"   (first compiled call {t_compile:.1f} s)", flush=True)
            if k == max(orders):
                m = jet_size(2, k)
                print(f"{'':<24}K={k}: eager jets = {t_jet[0] / (m * t_fwd[0]):.2f} x M={m} forwards, "
                      f"compiled = {t_cmp[0] / (m * t_fwd[0]):.2f} x M={m} forwards (wall)")


if __name__ == "__main__":
    main()
