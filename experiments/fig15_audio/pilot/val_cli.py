"""Session 7: Pi candidates scored on validation clips, with the CLI's own stores, sampler, Pi and schedule.

    python experiments/fig15_audio/pilot/val_cli.py --train stores/a3/noise-train --val stores/a3/noise-val \
        --cands "72:64:4:1500:128x3;144:64:4:1500:128x3" --log experiments/fig15_audio/pilot/val_cli.jsonl

The stores are `insp fit +experiment=fig15_cpu/fit` stores (train split fitted with fit.shard_size=72, so the
first n clips are whole shards; the noise and each INR's seed depend on the clip's index only, so the first n
clips of a larger store are exactly what a store fitted with data.limit=n holds). The jets of every training
and validation INR are computed ONCE at the widest reach asked for (``filters.audio.sample_jets``) and sliced
for each candidate, instead of once per `insp train-filter` run; training is `insp train-filter`'s for audio
(``AudioFusion``, ``ClipSampler``, feature statistics on 65,536 points with seed + 1, AdamW, cosine lr to
lr_final by ``jobs.train_filter._lr_at``), and the scores are `insp eval`'s (``metrics.audio``, the baselines
on the decoded input with the known sigma), on the same validation clips.

A candidate is "n:reach:step:pi_steps:HIDDENxLAYERS[:K]": Pi trained on the first n training clips, offsets
-reach..reach step ``step``, ``pi_steps`` AdamW steps of 4,096 samples (lr 1e-3 -> 1e-5, weight decay 1e-4), on
the jets up to order K (default --order; the jets of order --order sliced, which is exact: each order's
per-sample units scale it alone).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from insp_cli.config import seed_everything
from insp_cli.data.audio import load_audio  # noqa: F401  (clean_clips imports it lazily)
from insp_cli.filters.audio import AudioFusion, ClipSampler, context_offsets, gather, sample_jets
from insp_cli.filters.baselines import audio as B
from insp_cli.filters.tasks import clean_clips, open_store
from insp_cli.jobs.train_filter import _lr_at
from insp_cli.metrics.audio import audio_metrics


def parse(c: str, order: int) -> dict:
    n, reach, step, steps, pi, *k = c.split(":")
    hidden, layers = map(int, pi.split("x"))
    return dict(n=int(n), reach=int(reach), step=int(step), steps=int(steps), hidden=hidden, layers=layers,
                order=int(k[0]) if k else order)


@torch.no_grad()
def apply(fusion: AudioFusion, jets: torch.Tensor, length: int, pad: int) -> np.ndarray:
    """Psi at the samples of every clip, from jets (N, length + 2 pad, K+1) padded by ``pad``."""
    offs, pos = fusion.offsets_tensor(), torch.arange(length)
    return torch.stack([fusion(gather(jets, torch.full_like(pos, i), pos, offs, pad))
                        for i in range(len(jets))]).double().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--cands", required=True, help="';'-separated n:reach:step:pi_steps:HxL")
    ap.add_argument("--order", type=int, default=8)
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", required=True, help="JSON lines, one per candidate (appended)")
    args = ap.parse_args()
    cands = [parse(c, args.order) for c in args.cands.split(";")]
    pad = max(c["reach"] for c in cands)
    tr, va = open_store(args.train), open_store(args.val)
    length, rate = int(va.header.source["length"]), int(va.header.source["rate"])
    sigma = float(va.header.degradation["sigma"]) / 255.0
    n_max = max(c["n"] for c in cands)
    if n_max > len(tr):
        raise SystemExit(f"{args.train} holds {len(tr)} clips, a candidate asks for {n_max}")
    t0 = time.time()
    clean_tr = torch.from_numpy(clean_clips(tr, args.data_root, args.train)[:n_max]).float()
    clean_va = clean_clips(va, args.data_root, args.val).astype(np.float64)
    jtr = sample_jets(tr.spec, tr.params[:n_max], length, args.order, pad).float()
    jva = sample_jets(va.spec, va.params, length, args.order, pad).float()
    print(f"jets: {n_max} train + {len(va)} val clips, K={args.order}, pad {pad}: {time.time() - t0:.0f} s",
          flush=True)
    dec = jva[:, pad:pad + length, 0].double().numpy()
    rows = {"input": dec, **{b: B.BASELINES[b](dec, sigma) for b in B.BASELINES if b != "input"}}
    base = {m: {k: float(np.nanmean(v)) for k, v in audio_metrics(clean_va, est, rate).items()}
            for m, est in rows.items()}
    print("val baselines: " + "  ".join(f"{m} {s['snr']:.2f}" for m, s in base.items()), flush=True)
    for c in cands:
        t0, cpu0 = time.time(), time.process_time()
        offsets = context_offsets(c["reach"], c["step"])
        r = c["reach"]
        k1 = c["order"] + 1
        sub_tr = jtr[:c["n"], pad - r:pad + length + r, :k1].contiguous()
        sub_va = jva[:, pad - r:pad + length + r, :k1].contiguous()
        sampler = ClipSampler(sub_tr, clean_tr[:c["n"]], offsets)
        seed_everything(args.seed)
        fusion = AudioFusion(c["order"], offsets, hidden=c["hidden"], layers=c["layers"], residual=True)
        feats, _ = sampler.sample(65536, torch.Generator().manual_seed(args.seed + 1))
        fusion.scaler.fit(feats, channels=len(offsets))
        t = {"lr": 1e-3, "lr_final": 1e-5, "steps": c["steps"]}
        opt = torch.optim.AdamW(fusion.parameters(), lr=1e-3, weight_decay=1e-4)
        gen = torch.Generator().manual_seed(args.seed)
        for i in range(c["steps"]):
            for g in opt.param_groups:
                g["lr"] = _lr_at(t, i)
            x, y = sampler.sample(4096, gen)
            loss = (fusion(x) - y).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        fusion.eval()
        psi = apply(fusion, sub_va, length, r)
        s = {k: float(np.nanmean(v)) for k, v in audio_metrics(clean_va, psi, rate).items()}
        rec = {**c, "features": sampler.num_features, "val_clips": len(va), "insp_net": s, "baselines": base,
               "gap_to_spectral_subtraction_db": s["snr"] - base["spectral_subtraction"]["snr"],
               "seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - cpu0, 1)}
        with open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"n {c['n']:3d} K {c['order']} offsets -{r}..{r} step {c['step']} Pi {c['hidden']}x{c['layers']} {c['steps']} steps | "
              f"INSP-Net SNR {s['snr']:.2f} SI-SDR {s['si_sdr']:.2f} PESQ {s['pesq']:.2f} STOI {s['stoi']:.3f} | "
              f"spectral subtraction {base['spectral_subtraction']['snr']:.2f} | {rec['seconds']:.0f} s "
              f"({rec['cpu_seconds']:.0f} s CPU)", flush=True)


if __name__ == "__main__":
    main()
