"""A 4-job `insp fit` sweep: the joblib launcher (hydra/launcher=local) against the same 4 jobs one after another
(Hydra's basic launcher, one process), run alternately in the same window so both see the same machine load.

    python scripts/bench_sweep.py [--repeats 2] [--limit 128] [--n-jobs 2]

Prints each wall and CPU time and the ratio sequential / parallel (> 1: the parallel sweep is faster).
On a machine shared with other work, more processes also take a larger share of contended cores: compare the
CPU seconds too (similar CPU = the gain is from running jobs side by side, not from doing less work).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(mode: str, tmp: Path, tag: str, limit: int, n_jobs: int, extra_env: dict) -> tuple[float, float]:
    shards = 4
    args = [sys.executable, "-m", "insp_cli.cli", "fit", "-m", "data=mnist", "data.split=test", f"data.limit={limit}",
            f"fit.shard_size={limit // shards}", "samples=4", f"data.num_shards={shards}",
            "data.shard=" + ",".join(map(str, range(shards))), f"store={tmp}/{tag}"]
    if mode == "parallel":
        args += ["hydra/launcher=local", f"hydra.launcher.n_jobs={n_jobs}"]
    env = {**os.environ, "INSP_WANDB_MODE": "disabled", "INSP_RUNS": str(tmp / "runs"), **extra_env}
    t0, c0 = time.perf_counter(), _child_cpu()
    r = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    dt, cpu = time.perf_counter() - t0, _child_cpu() - c0
    if r.returncode != 0:
        sys.exit(f"{mode} sweep failed:\n{r.stderr[-2000:]}")
    return dt, cpu


def _child_cpu() -> float:
    # CPU seconds of finished children and their children (joblib's workers end with the sweep)
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--limit", type=int, default=128, help="MNIST test INRs in all (4 jobs of limit/4)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seq-threads", type=int, default=None,
                    help="OMP_NUM_THREADS of the sequential sweep (default: torch's, one per core)")
    a = ap.parse_args()
    # joblib's loky workers already run with OMP_NUM_THREADS = cores / n_jobs
    seq_env = {"OMP_NUM_THREADS": str(a.seq_threads)} if a.seq_threads else {}
    times: dict[str, list[float]] = {"sequential": [], "parallel": []}
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for rep in range(a.repeats):
            for mode in (("sequential", "parallel") if rep % 2 == 0 else ("parallel", "sequential")):
                env = seq_env if mode == "sequential" else {}
                dt, cpu = sweep(mode, tmp, f"{mode}-{rep}", a.limit, a.n_jobs, env)
                times[mode].append(dt)
                print(f"  {mode:<10} run {rep}: wall {dt:6.1f} s, cpu {cpu:6.1f} s  (load {os.getloadavg()[0]:.1f})",
                      flush=True)
    seq, par = statistics.median(times["sequential"]), statistics.median(times["parallel"])
    print(f"4-job fit sweep of {a.limit} INRs: sequential {seq:.1f} s, joblib n_jobs={a.n_jobs} {par:.1f} s "
          f"(medians of {a.repeats}); ratio sequential/parallel = {seq / par:.2f}x")


if __name__ == "__main__":
    main()
