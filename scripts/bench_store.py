"""How much verification costs when a big store is opened: a 70,000-INR MNIST-format store (the default MNIST
SIREN 3x32, 2,241 parameters per INR, shards of 1,024), opened with ``verify="full"`` (sha256 of every shard),
``verify="fast"`` (sizes, headers, dtypes and shapes) and with no verification at all (safetensors'
``load_file`` of every shard, the open of store format 1), cold (page cache dropped, needs root) and warm.

The parameters are random: opening and verifying read and hash bytes, whatever values they hold, so the cost
is that of a fitted store of the same size (fitting 70,000 INRs would take an hour here).

    python scripts/bench_store.py [--inrs 70000] [--dir /tmp/bench-store] [--repeats 3] [--keep] [--reverse]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from insp_cli.inr.siren import SirenSpec
from insp_cli.inr.store import INRStore, StoreHeader, finished_shards, prepare_store, write_shard


def build(directory: Path, n: int, shard: int) -> None:
    spec = SirenSpec(2, 1, 32, 3)
    header = StoreHeader(spec=spec, source={"name": "mnist", "split": "train", "size": [28, 28]},
                         degradation={"kind": "clean"}, fit={"note": "random parameters (bench_store.py)"})
    prepare_store(directory, header)
    rng = np.random.default_rng(0)
    for a in range(0, n, shard):
        b = min(n, a + shard)
        params = torch.from_numpy(rng.standard_normal((b - a, spec.num_params), dtype=np.float32))
        write_shard(directory, header, a, b, params, np.arange(a, b), np.full(b - a, 40, np.float32),
                    np.ones(b - a, np.uint8), labels=np.arange(a, b) % 10)


def open_plain(directory: Path) -> int:
    """No verification: what store format 1 did (safetensors load_file of every shard, concatenated)."""
    from safetensors.numpy import load_file

    parts = [load_file(str(p)) for p in finished_shards(directory).values()]
    return len(np.concatenate([p["params"] for p in parts]))


def drop_caches() -> bool:
    try:
        import os

        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inrs", type=int, default=70000)
    ap.add_argument("--shard", type=int, default=1024)
    ap.add_argument("--dir", default="/tmp/bench-store")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the store for the next run")
    ap.add_argument("--reverse", action="store_true", help="measure full, fast, none (cold order effects)")
    args = ap.parse_args()
    d = Path(args.dir)
    if not (d / "store.json").exists():
        t = time.perf_counter()
        build(d, args.inrs, args.shard)
        print(f"built {args.inrs} INRs in {time.perf_counter() - t:.1f} s")
    size = sum(p.stat().st_size for p in d.iterdir())
    print(f"store {d}: {len(finished_shards(d))} shards, {size / 2**20:.0f} MiB, torch threads "
          f"{torch.get_num_threads()}")
    ways = {"none (load_file)": lambda: open_plain(d), "fast": lambda: len(INRStore.open(d, verify="fast")),
            "full": lambda: len(INRStore.open(d, verify="full"))}
    if args.reverse:
        ways = dict(reversed(list(ways.items())))
    cold_ok = drop_caches()
    rows = {}
    for name, fn in ways.items():
        cold = None
        if cold_ok:
            drop_caches()
            t = time.perf_counter()
            assert fn() == args.inrs
            cold = time.perf_counter() - t
        warm = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            assert fn() == args.inrs
            warm.append(time.perf_counter() - t)
        rows[name] = (cold, min(warm))
    ref_cold, ref_warm = rows["none (load_file)"]
    print(f"{'verification':18s} {'cold s':>8s} {'x none':>7s} {'warm s':>8s} {'x none':>7s}")
    for name in ("none (load_file)", "fast", "full"):
        cold, warm = rows[name]
        c = f"{cold:8.2f} {cold / ref_cold:7.2f}" if cold is not None else f"{'n/a':>8s} {'':7s}"
        print(f"{name:18s} {c} {warm:8.2f} {warm / ref_warm:7.2f}")
    if not cold_ok:
        print("(cold: cannot drop the page cache without root)")
    if not args.keep:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
