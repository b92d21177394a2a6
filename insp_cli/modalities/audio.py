"""The audio modality (m = 1, paper App. F): speech/music clips -> 1-D SIRENs -> INSP-Net denoising.

Fit: clips (N, T) with amplitudes in [-1, 1]; noise is added to the amplitude and the targets are (x + 1) / 2.
Pi: per-sample-unit jets of the amplitude at random samples and their context offsets (``filters.sampler.PixelSampler``
with m = 1), against the clean clip.
`insp eval`: Psi decoded at the clips' samples vs the clean clips (SNR, SI-SDR, PESQ-nb, STOI) beside the
classical denoisers (``filters.baselines.audio``); per_clip.csv, audio.md/.csv, WAVs and waveform PNGs.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from omegaconf import DictConfig

from ..data.audio import load_audio, write_wav
from ..errors import InspError
from ..files import atomic_write
from ..filters import PixelSampler
from ..filters.audio import denoise_clips
from ..filters.baselines import audio as audio_baselines
from ..filters.tasks import clean_clips
from ..filters.jet_cnn import check_clip_ensemble, conv_record
from ..filters.train_pi import PiData, field_data, sampled_psnr
from ..inr.siren import grid_coords
from ..inr.store import INRStore
from ..metrics.audio import AUDIO_METRICS, audio_metrics
from ..progress import ProgressLog
from ..report import Column, Table, label, to_markdown
from ..report import to_csv as _csv
from ..spellings import degradation_kind
from ..tracking import Run
from ..viz import save_waveforms
from .base import (Modality, Signals, degraded, eval_record, pi_context, register, spec_for, summary_means,
                   write_scores_csv)

log = logging.getLogger("insp")


def audio_signals(cfg: DictConfig) -> Signals:
    """Audio clips (N, T) with amplitudes in [-1, 1] (peak 1): noise is added to the amplitude (sigma/255 of
    the peak, never clipped: amplitudes are signed), and the fit targets are (x + 1) / 2."""
    d = cfg.data
    clips = load_audio(str(d.source), split=d.split, start=int(d.start), limit=d.limit, length=int(d.length),
                       rate=int(d.rate), root=d.root, folder=d.folder, min_seconds=float(d.min_seconds))
    kind = degradation_kind(str(cfg.degradation.kind))
    if kind not in ("clean", "noise"):
        raise InspError(f"degradation {kind} is for images; audio takes clean or noise (degradation=noise)")
    noisy = degraded(cfg, clips.clips[:, None, :, None], clips.indices, f"audio {d.source}", clip=False,
                        items=("clips", "samples"))
    n, t = clips.clips.shape
    source = {k: v for k, v in clips.meta.items() if k not in ("start", "limit", "root")}
    source.update(name="audio", modality="audio", source=str(d.source), length=int(t), rate=clips.rate)
    return Signals(targets=(noisy.images.reshape(n, t, 1) + 1) / 2, masks=None, coords=grid_coords((t,)),
                   indices=clips.indices, labels=None, spec=spec_for(cfg, 1, 1, (t,)), source=source,
                   degradation=noisy.params, shape=(t,))


def _log_audio_samples(cfg: DictConfig, run: Run, store: INRStore) -> None:
    n = min(int(cfg.samples), len(store), 8)
    if n == 0:
        return
    t = int(store.header.source["length"])
    clips = store.evaluate(grid_coords((t,)), rows=np.arange(n))[..., 0].numpy()
    path = save_waveforms(run.dir / "samples.png", [[c] for c in clips], [str(int(i)) for i in store.indices[:n]],
                          ["decoded INR"], int(store.header.source["rate"]))
    run.log_image("samples", path, caption=f"first {n} INRs decoded at their {t} samples")


def pi_meta(cfg: DictConfig, store, fz: dict, meta: dict) -> None:
    """The offsets of Pi's context in samples (or of a convolutional Pi's reach, ``filters.jet_cnn``). An MLP Pi
    trains without augmentation (flips and colour permutations are image symmetries); a convolutional one, with
    train.augment, on windows reversed in time and / or negated."""
    conv = fz.get("kind", "mlp") == "conv"
    offsets = [o for (o,) in (conv_record(fz, 1, meta) if conv else pi_context(fz, 1, meta))]
    meta.update(modality="audio", units=[int(store.header.source["length"])])
    meta["fusion"]["offsets"] = offsets
    if not conv:
        meta["train"]["augment"] = False


def pi_data(cfg: DictConfig, store, task: dict, meta: dict, device) -> PiData:
    """Jets of every sample of the training clips (padded by the context's reach), against the clean clips."""
    length, offsets, where = int(meta["units"][0]), meta["fusion"]["offsets"], f"store {cfg.store}"
    params = store.params.to(device)
    clean = torch.from_numpy(clean_clips(store, cfg.data_root, where)).to(device)
    sampler = PixelSampler(store.spec, params, clean[..., None], int(meta["order"]), (length,),
                           cache_bytes=float(meta["train"]["feature_cache_gb"]) * 2**30,
                           images_per_batch=int(meta["train"]["images_per_batch"]), offsets=offsets, intensity=False)
    if meta["fusion"].get("kind") == "conv":
        side = int(meta["train"].get("patch") or 32)  # amplitudes in [-1, 1]
        return field_data(sampler, side, 1, -1.0, f"{length} samples, runs of {side} with a reach of {sampler.pad}")
    return PiData(sample=sampler.sample, windows=sampler.windows, num_features=sampler.num_features,
                  stat_channels=len(offsets),
                  stat_features=lambda k, gen, seed: sampler.sample(k, torch.Generator().manual_seed(seed + 1))[0],
                  final_psnr=lambda fusion, seed: sampled_psnr(fusion, sampler.sample, seed, -1.0),  # amplitudes
                  what=f"{length} samples, {len(offsets)} offsets")


AUDIO_METHODS = (*audio_baselines.BASELINES, "insp_net")  # input, the classical denoisers, INSP-Net


def evaluate_audio(cfg: DictConfig, run: Run, filt, meta: dict, store, where: str, device) -> dict:
    """Psi decoded at the clips' samples vs the clean clips: SNR, SI-SDR, PESQ-nb, STOI, beside the classical
    denoisers applied to the decoded input with the known sigma. Writes per_clip.csv, audio.md/.csv, WAV files
    and waveform / spectrogram PNGs of the first ``audio_examples`` clips."""
    src = store.header.source
    length, rate = int(src["length"]), int(src["rate"])
    sigma = float(store.header.degradation.get("sigma", 0.0)) / 255.0
    clean = clean_clips(store, cfg.data_root, where).astype(np.float64)
    n, bs, t0 = len(store), int(cfg.batch_inrs), time.time()
    fusion = filt.fusion.to(device)
    outs = {m: np.empty((n, length)) for m in ("input", "insp_net")}
    with ProgressLog("eval", n, "INR", where=f"{meta['task']['name']}: 0/{n} audio INRs decoded") as progress:
        for a in range(0, n, bs):
            rows = np.arange(a, min(a + bs, n))
            outs["input"][rows] = store.evaluate(grid_coords((length,)), rows=rows, device=device)[..., 0].cpu().numpy()
            outs["insp_net"][rows] = denoise_clips(fusion, store.spec, store.params_at(rows).to(device),
                                                   length, filt.ensemble).cpu().numpy()
            progress.update(rows[-1] + 1, f"{meta['task']['name']}: {rows[-1] + 1}/{n} audio INRs decoded")
    decode_seconds = time.time() - t0
    for b in AUDIO_METHODS[1:-1]:
        outs[b] = audio_baselines.BASELINES[b](outs["input"], sigma)
    scores = {m: audio_metrics(clean, outs[m], rate) for m in AUDIO_METHODS}
    summary = summary_means(scores)
    write_scores_csv(run.dir / "per_clip.csv", store.indices, scores, AUDIO_METRICS)
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
    for what in ("waveform", "spectrogram") if k else ():  # audio_examples=0: no examples, no pictures
        path = save_waveforms(run.dir / f"{what}.png", examples, names, titles, rate, spectrogram=what != "waveform")
        run.log_image(what, path, caption=" | ".join(titles))
    run.log({f"{m}/{key}": v for m, r in summary.items() for key, v in r.items() if v is not None})
    metrics = eval_record(cfg, meta, store, scores, list(AUDIO_METHODS),
                          {"clip_samples": length, "rate": rate, "context": meta["fusion"].get("offsets")},
                          decode_seconds, best_baseline=best, self_ensemble=filt.ensemble)
    line = "  ".join(f"{m} {summary[m]['snr']:.2f}" for m in AUDIO_METHODS)
    print(f"eval {metrics['task']} on {n} audio INRs: SNR {line}\n  table   {run.dir / 'audio.md'}"
          f"\n  run dir {run.dir}")
    return metrics


class Audio(Modality):
    name = "audio"
    datasets = ("audio",)
    summary_keys = ("name", "split", "size", "channels", "origin", "modality", "source", "length", "rate")
    flat = "a silent clip"

    def signals(self, cfg):
        return audio_signals(cfg)

    def log_samples(self, cfg, run, store):
        _log_audio_samples(cfg, run, store)

    def check_store(self, store, where):
        if store.spec.in_features != 1 or not store.header.source.get("length"):
            raise InspError(f"{where} says it holds audio but its INRs are not 1-D clips of a known length")

    def check_self_ensemble(self, filt, store, where):
        """1, or a convolutional Pi's 2 / 4 views of a clip (``filters.jet_cnn.clip_ensemble``)."""
        check_clip_ensemble(filt.fusion, filt.ensemble, f"{where} holds audio INRs; ")

    pi_meta = staticmethod(pi_meta)
    pi_data = staticmethod(pi_data)
    evaluate = staticmethod(evaluate_audio)


AUDIO = register(Audio())
