"""`insp eval`: a filter checkpoint + a test INR store -> PSNR / SSIM / LPIPS against the clean images, beside
the classical filters applied to the decoded input, in the layout of the paper's Table 2.

Run directory: ``per_image.csv`` (one row per image and method), ``table2.md`` / ``table2.csv`` (means),
``grid.png`` (input | INSP-Net | baselines | ground truth), ``metrics.json`` (machine-readable summary read by
``insp table``). Also the resolution check: Psi decoded on 2x2 sub-pixels and box-averaged back must give the
1x decoding's quality (Psi is one continuous function, not a 1x image).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..config import hydra_run_dir, jets_compile, pick_device, required, seed_everything
from ..data import degrade
from ..data.audio import write_wav
from ..data.degrade import MASKED
from ..errors import InspError
from ..files import atomic_write
from ..filters import box_downsample
from ..filters.audio import denoise_clips
from ..filters.baselines import audio as audio_baselines
from ..filters.baselines.images import BASELINES, apply_baseline
from ..filters.checkpoint import check_filter_fits, load_filter
from ..filters.tasks import check_inputs, clean_clips, clean_targets, held_out, modality, open_store, task_targets
from ..inr.backbones import describe, kind_of
from ..inr.siren import grid_coords
from ..metrics import image_scores, psnr_where_missing
from ..metrics.audio import AUDIO_METRICS, audio_metrics
from ..progress import ProgressLog
from ..report import PAPER_TABLE2, Column, Table, label, to_markdown
from ..report import to_csv as _csv
from ..report.wins import image_names, wins_vs_best_3x3, write_wins
from ..tracking import Run, run_job
from ..viz import save_grid, save_waveforms
from .shapes_eval import evaluate_shapes

log = logging.getLogger("insp")


def eval_job(cfg: DictConfig) -> float | None:
    row = run_eval(cfg, hydra_run_dir())["rows"]["insp_net"]
    return row["psnr"] if "psnr" in row else row["snr"] if "snr" in row else row.get("chamfer_l1")


def _context_label(meta: dict) -> str:
    """', jets at 5x5 points (step 1)' for a Pi with a context of neighbouring pixels (or samples: '... at 33
    points (step 4)'); '' for a pointwise Pi."""
    offs = [o if isinstance(o, list) else [o] for o in meta["fusion"].get("offsets") or [[0]]]
    if len(offs) == 1:
        return ""
    xs = sorted({o[0] for o in offs})
    step = xs[1] - xs[0]  # a regular neighbourhood
    shape = "x".join([str(len(xs))] + [str(len(offs) // len(xs))] * (len(offs[0]) > 1))
    return f", jets at {shape} points (step {step})"


def run_eval(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Score ``cfg.filter`` on ``cfg.store`` and write the run directory. Returns the metrics."""
    return run_job(cfg, run_dir, "eval", _evaluate)


def _evaluate(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    filt, meta = load_filter(str(required(cfg, "filter", "a checkpoint from `insp train-filter`")))
    task = meta["task"]
    store = open_store(required(cfg, "store", "an INR store of degraded test images"))
    where = f"store {cfg.store}"
    check_filter_fits(meta, store, where)
    check_inputs(task, store, where)
    if modality(store) == "audio":
        return _evaluate_audio(cfg, run, filt, meta, store, where, device)
    if modality(store) == "shapes":  # SDF INRs: jobs/shapes_eval.py
        return evaluate_shapes(cfg, run, filt, meta, store, where, device)
    clean = clean_targets(cfg.targets, cfg.data_root, store, where)
    gt = task_targets(task, clean).astype(np.float64)
    deg = dict(store.header.degradation)
    mask = None
    if deg.get("kind") in MASKED:  # the same removed pixels as the fit saw
        kind, seed = deg.pop("kind"), int(deg.pop("seed", 0))
        mask = degrade(clean, kind, deg, seed=seed, indices=store.indices).masks
        deg = store.header.degradation
    names = list(cfg.baselines) if cfg.baselines is not None else list(task.get("baselines") or [])
    for b in names:
        if b not in BASELINES:
            raise InspError(f"unknown baseline {b!r} (choose from {', '.join(BASELINES)})")
    methods = ["input"] + names + ["insp_net"]
    h, w = store.size
    n = len(store)
    with_lpips = bool(cfg.lpips) and gt.shape[-1] in (1, 3) and min(h, w) >= 32
    if bool(cfg.lpips) and not with_lpips:
        log.warning("LPIPS skipped: it needs 1- or 3-channel images of at least 32x32 pixels")

    t0 = time.time()
    outs = {m: np.empty((n, h, w, gt.shape[-1]), np.float32) for m in methods}
    up = np.empty_like(outs["input"]) if cfg.check_2x else None
    bs = int(cfg.batch_inrs)
    with ProgressLog("eval", n, "INR", where=f"{task['name']}: 0/{n} INRs decoded") as progress:
        for a in range(0, n, bs):
            rows = np.arange(a, min(a + bs, n))
            params = store.params[rows].to(device)
            outs["input"][rows] = store.decode((h, w), rows=rows, device=device).numpy()
            outs["insp_net"][rows] = filt.decode(store.spec, params, (h, w)).cpu().numpy()
            if up is not None:
                up[rows] = box_downsample(filt.decode(store.spec, params, (h, w), factor=2), 2).cpu().numpy()
            progress.update(rows[-1] + 1, f"{task['name']}: {rows[-1] + 1}/{n} INRs decoded")
    decode_seconds = time.time() - t0
    for b in names:
        outs[b] = np.stack([apply_baseline(b, img, deg, float(cfg.wiener_balance))
                            for img in outs["input"]]).astype(np.float32)

    scores = {m: image_scores(outs[m], gt, device, with_lpips) for m in methods}
    if mask is not None:
        for m in methods:
            scores[m]["psnr_missing"] = psnr_where_missing(outs[m], gt, mask)
    rows_summary = {m: {k: float(np.nanmean(v)) if np.isfinite(v).any() else None for k, v in s.items()}
                    for m, s in scores.items()}
    check = None
    if up is not None:
        p1 = scores["insp_net"]["psnr"]
        p2 = image_scores(up, gt, device, False)["psnr"]
        pc = image_scores(up, outs["insp_net"], device, False)["psnr"]
        check = {"psnr_1x": float(p1.mean()), "psnr_2x_down": float(p2.mean()),
                 "delta_db": float(p2.mean() - p1.mean()), "max_abs_delta_db": float(np.abs(p2 - p1).max()),
                 "psnr_2x_down_vs_1x": float(pc.mean()), "within_0_5_db": bool(abs(p2.mean() - p1.mean()) <= 0.5)}
        scores["insp_net_2x_down"] = {"psnr": p2, "psnr_vs_1x": pc}

    _write_per_image(run.dir / "per_image.csv", store.indices, scores)
    wins = wins_vs_best_3x3(scores)
    if wins is not None:  # wins.csv + wins.png: INSP-Net minus the best 3x3 filter, per image
        wins = write_wins(run.dir, image_names(dict(store.header.source), store.indices), scores, wins)
    _write_table(run.dir, task["name"], methods, rows_summary, mask is not None)
    if int(cfg.grid) > 0:  # grid=0: no PNG grid
        grid = _write_grid(run.dir / "grid.png", outs, gt, methods, int(cfg.grid))
        run.log_image("grid", grid, caption=" | ".join(methods + ["ground truth"]))
    run.log_table("per_image", ["index", "method", "psnr", "ssim", "lpips"],
                  [[int(store.indices[i]), m, float(scores[m]["psnr"][i]), float(scores[m]["ssim"][i]),
                    float(scores[m]["lpips"][i])] for m in methods for i in range(n)])
    run.log({f"{m}/{k}": v for m, r in rows_summary.items() for k, v in r.items() if v is not None})

    is_held_out = held_out(meta["trained_on"], store)
    spec = store.spec
    metrics = {
        "task": task["name"], "n_images": n, "held_out": is_held_out, "rows": rows_summary, "decode_2x": check,
        "wins_vs_best_3x3": wins,
        "scale": {"label": str(cfg.scale), "image_size": [h, w], "channels": spec.out_features,
                  "inr": f"siren {spec.depth}x{spec.hidden} omega0 {spec.omega0:g}" if kind_of(spec) == "siren"
                  else describe(spec), "order": int(meta["order"]),
                  "pi": f"mlp {meta['fusion']['layers']}x{meta['fusion']['hidden']}" + _context_label(meta),
                  "n_train": int(meta["trained_on"]["count"]), "train_steps": int(meta["train"]["steps"])},
        "filter": str(cfg.filter), "store": str(cfg.store), "degradation": store.header.degradation,
        "inr_reg": str((store.header.fit.get("reg") or {}).get("kind", "none")),  # the input INRs' fitting prior
        "trained_on": meta["trained_on"], "decode_seconds": round(decode_seconds, 2),
    }
    r = rows_summary
    line = "  ".join(f"{m} {r[m]['psnr']:.2f}" for m in methods)
    print(f"eval {task['name']} on {n} INRs ({h}x{w}): PSNR {line}"
          + (f"\n  2x decode: {check['psnr_2x_down']:.2f} dB vs 1x {check['psnr_1x']:.2f} dB" if check else "")
          + (f"\n  wins against {wins['best_3x3']}: {wins['wins']}/{wins['n']} (mean {wins['mean_delta_db']:+.2f} dB)"
             if wins else "")
          + f"\n  table   {run.dir / 'table2.md'}\n  run dir {run.dir}")
    return metrics


def _write_per_image(path: Path, indices: np.ndarray, scores: dict,
                     keys=("psnr", "ssim", "lpips", "psnr_missing", "psnr_vs_1x")) -> None:
    """One CSV row per item and method: index, method, the scores ``keys`` (blank where missing)."""
    keys = list(keys)
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["index", "method"] + keys)
    for m, s in scores.items():
        for i, j in enumerate(indices):
            wr.writerow([int(j), m] + [_fmt(s[k][i]) if k in s else "" for k in keys])
    atomic_write(path, buf.getvalue())


def _fmt(v) -> str:
    return "" if v is None or not np.isfinite(v) else f"{float(v):.4f}"


def _write_table(run_dir: Path, task: str, methods: list[str], rows: dict, missing: bool) -> None:
    """Table 2's layout (method | PSNR | SSIM | LPIPS), as markdown and CSV; the paper's numbers below, labelled."""
    cols = ["psnr", "ssim", "lpips"] + (["psnr_missing"] if missing else [])
    order = ["input"] + [m for m in methods if m not in ("input", "insp_net")] + ["insp_net"]
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["method", "label"] + cols)
    for m in order:
        wr.writerow([m, label(m)] + [_fmt(rows[m].get(c)) for c in cols])
    atomic_write(run_dir / "table2.csv", buf.getvalue())
    columns = [Column("method", "Method"), Column("psnr", "PSNR", 2), Column("ssim", "SSIM", 3),
               Column("lpips", "LPIPS", 3)] + ([Column("psnr_missing", "PSNR (removed pixels)", 2)] if missing else [])
    ours = Table("eval", f"Task: {task} (ours, this run)", None, columns,
                 [{"method": label(m), **rows[m]} for m in order],
                 notes=["Classical filters: 3x3 windows (Gaussian: sigma 1); Wiener: deconvolution with the known "
                        "PSF."])
    tables = [ours]
    if task == "denoise":
        paper = [Column("method", "Method"), Column("psnr", "PSNR", 2), Column("ssim", "SSIM", 2),
                 Column("lpips", "LPIPS", 2)]
        paper_rows = [{"method": f"{label(m)} (paper)", "psnr": p, "ssim": s, "lpips": lp}
                for m, (p, s, lp) in PAPER_TABLE2.items()]
        tables.append(Table("paper", "The paper's Table 2 (DIV2K 256x256, 100 test INRs; reference only, not this "
                            "run)", None, paper, paper_rows))
    atomic_write(run_dir / "table2.md", to_markdown(tables))


def _write_grid(path: Path, outs: dict, gt: np.ndarray, methods: list[str], count: int) -> Path:
    shown = ["input", "insp_net"] + [m for m in methods if m not in ("input", "insp_net")]
    rows = [[outs[m][i] for m in shown] + [gt[i]] for i in range(min(count, len(gt)))]
    size = gt.shape[1]
    return save_grid(rows, path, titles=[label(m).split(" (")[0] for m in shown] + ["ground truth"],
                     scale=max(1, 128 // size))


AUDIO_METHODS = (*audio_baselines.BASELINES, "insp_net")  # input, the classical denoisers, INSP-Net


def _evaluate_audio(cfg: DictConfig, run: Run, fusion, meta: dict, store, where: str, device) -> dict:
    """Psi decoded at the clips' samples vs the clean clips: SNR, SI-SDR, PESQ-nb, STOI, beside the classical
    denoisers applied to the decoded input with the known sigma. Writes per_clip.csv, audio.md/.csv, WAV files
    and waveform / spectrogram PNGs of the first ``audio_examples`` clips."""
    src = store.header.source
    length, rate = int(src["length"]), int(src["rate"])
    sigma = float(store.header.degradation.get("sigma", 0.0)) / 255.0
    clean = clean_clips(store, cfg.data_root, where).astype(np.float64)
    n, bs, t0 = len(store), int(cfg.batch_inrs), time.time()
    fusion = fusion.to(device)
    outs = {m: np.empty((n, length)) for m in ("input", "insp_net")}
    with ProgressLog("eval", n, "INR", where=f"{meta['task']['name']}: 0/{n} audio INRs decoded") as progress:
        for a in range(0, n, bs):
            rows = np.arange(a, min(a + bs, n))
            outs["input"][rows] = store.evaluate(grid_coords((length,)), rows=rows, device=device)[..., 0].cpu().numpy()
            outs["insp_net"][rows] = denoise_clips(fusion, store.spec, store.params[rows].to(device),
                                                   length).cpu().numpy()
            progress.update(rows[-1] + 1, f"{meta['task']['name']}: {rows[-1] + 1}/{n} audio INRs decoded")
    decode_seconds = time.time() - t0
    for b in AUDIO_METHODS[1:-1]:
        outs[b] = audio_baselines.BASELINES[b](outs["input"], sigma)
    scores = {m: audio_metrics(clean, outs[m], rate) for m in AUDIO_METHODS}
    summary = {m: {k: float(np.nanmean(v)) if np.isfinite(v).any() else None for k, v in s.items()}
               for m, s in scores.items()}
    _write_per_image(run.dir / "per_clip.csv", store.indices, scores, AUDIO_METRICS)
    cols = [Column("method", "Method"), Column("snr", "SNR (dB)", 2), Column("si_sdr", "SI-SDR (dB)", 2),
            Column("pesq", "PESQ-nb", 2), Column("stoi", "STOI", 3)]
    table = Table("eval", f"Audio denoising (ours, this run: {n} clips)", None, cols,
                  [{"method": label(m), **summary[m]} for m in AUDIO_METHODS],
                  notes=[f"Gaussian noise sigma {sigma * 255:g}/255 of each clip's peak; baselines applied to the "
                         "decoded input with the known sigma."])
    atomic_write(run.dir / "audio.md", to_markdown([table]))
    atomic_write(run.dir / "audio.csv", _csv([table]))
    best = max(AUDIO_METHODS[1:-1], key=lambda m: summary[m]["snr"] or -1e9)
    shown = ["input", "insp_net", best]
    k = min(int(cfg.audio_examples), n)
    examples = [[outs[m][i] for m in shown] + [clean[i]] for i in range(k)]
    titles = [label(m) for m in shown] + ["clean"]
    names = [str(int(j)) for j in store.indices[:k]]
    for i in range(k):
        for m, clip in zip(shown + ["clean"], examples[i]):
            write_wav(run.dir / "audio" / f"{names[i]}-{m}.wav", np.clip(clip, -1, 1), rate)
    for what in ("waveform", "spectrogram"):
        path = save_waveforms(run.dir / f"{what}.png", examples, names, titles, rate, spectrogram=what != "waveform")
        run.log_image(what, path, caption=" | ".join(titles))
    run.log({f"{m}/{key}": v for m, r in summary.items() for key, v in r.items() if v is not None})
    spec = store.spec
    metrics = {
        "task": meta["task"]["name"], "modality": "audio", "n_images": n, "held_out": held_out(meta["trained_on"], store),
        "rows": summary, "best_baseline": best,
        "scale": {"label": str(cfg.scale), "clip_samples": length, "rate": rate,
                  "inr": f"siren {spec.depth}x{spec.hidden} omega0 {spec.omega0:g} x{spec.coord_scale:g}",
                  "order": int(meta["order"]), "context": meta["fusion"].get("offsets"),  # the table counts them
                  "pi": f"mlp {meta['fusion']['layers']}x{meta['fusion']['hidden']}",
                  "n_train": int(meta["trained_on"]["count"]), "train_steps": int(meta["train"]["steps"])},
        "filter": str(cfg.filter), "store": str(cfg.store), "degradation": store.header.degradation,
        "inr_reg": str((store.header.fit.get("reg") or {}).get("kind", "none")),  # the input INRs' fitting prior
        "trained_on": meta["trained_on"], "decode_seconds": round(decode_seconds, 2),
    }
    line = "  ".join(f"{m} {summary[m]['snr']:.2f}" for m in AUDIO_METHODS)
    print(f"eval {metrics['task']} on {n} audio INRs: SNR {line}\n  table   {run.dir / 'audio.md'}"
          f"\n  run dir {run.dir}")
    return metrics
