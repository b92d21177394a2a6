"""Fig. 15 as a table (``insp table table=audio``): `insp eval` runs on audio INRs -> SNR / SI-SDR / PESQ-nb / STOI
per method; its bars and catalogue entry. The paper reports no number for audio."""

from __future__ import annotations

from typing import Any

from insp_cli.report.labels import label
from insp_cli.report.runs import RunRecord
from insp_cli.report.table_kit import (Bars, Column, PaperItem, Table, TableSpec, mean_std, method_order, need_eval,
                                       setting_of, shared_test_set, split_complete)

_AUDIO_SCORES = (("snr", "SNR (dB)", 2), ("si_sdr", "SI-SDR (dB)", 2), ("pesq", "PESQ-nb", 2), ("stoi", "STOI", 3))


def _audio(records: list[RunRecord], scale: str | None) -> Table:
    """Fig. 15 as a table: INSP-Net and the classical denoisers on held-out audio INRs (SNR, SI-SDR, PESQ-nb,
    STOI against the clean clips). The paper reports no number for audio."""
    runs, failed = split_complete(records)
    for r in runs:
        need_eval(r, "rows", "n_items")
    n = shared_test_set(runs, "audio: the eval runs", "table", "clip_samples")
    rows = []
    for k in method_order(runs):
        ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
        cells: dict[str, Any] = {}
        for name, _, _ in _AUDIO_SCORES:
            cells[name], cells[f"{name}_std"] = mean_std([o.get(name) for o in ours])
        rows.append({"method": label(k), **cells, "runs": len(ours)})
    cols = [Column("method", "Method")] + [Column(name, t, d, std=f"{name}_std") for name, t, d in _AUDIO_SCORES] + \
        [Column("runs", "Runs")]
    notes = []
    if runs:
        s = setting_of(runs[0].metrics)
        sigma = (runs[0].metrics.get("degradation") or {}).get("sigma")
        kept = "held-out" if all(r.metrics.get("held_out") for r in runs) else "NOT held-out (they overlap training)"
        notes.append(f"Ours: {n[0] if n else '?'} {kept} test clips of {s.get('clip_samples')} samples at "
                     f"{s.get('rate')} Hz, Gaussian noise sigma {sigma}/255 of each clip's peak; INR {s.get('inr')}; "
                     f"Pi {s.get('pi')} on the jets up to order {s.get('order')} at "
                     f"{len(s.get('context') or [0])} offsets; {s.get('n_train')} training INRs. Baselines are "
                     "applied to the decoded input with the known sigma; mean ± std over runs where several.")
        views = sorted({int(r.metrics.get("self_ensemble", 1)) for r in runs} - {1})
        if views:  # insp eval self_ensemble=2|4 (a convolutional Pi; runs before it have none: Pi alone)
            notes.append(f"INSP-Net: test-time self-ensemble of {'/'.join(map(str, views))} views (the clip and its "
                         "time reversal, and with 4 both negated; filters/jet_cnn.py:clip_ensemble).")
    notes.append("Paper (App. F, Fig. 15): one Bach clip, figures only, no number.")
    return Table("audio", "Fig. 15: audio denoising (SNR / SI-SDR / PESQ-nb / STOI)", scale, cols, rows,
                 notes=notes, failed=failed)


AUDIO = TableSpec(
    "audio", "eval", _audio, modality="audio",
    bars=Bars(lambda row: row["method"].replace(" (", "\n("), (("snr", "ours"),), "SNR (dB)", ran_only=True),
    item=PaperItem("fig15", "Fig. 15: audio denoising (SNR / SI-SDR / PESQ-nb / STOI on held-out speech clips)", (),
                   ["insp fit data=audio degradation=noise && insp fit data=audio data.split=test degradation=noise",
                    "insp train-filter task=denoise store=STORE fusion.order=2 fusion.context=96 fusion.context_step=1",
                    "insp eval filter=FILTER store=TEST_STORE  # audio.md, WAV files, waveform.png, spectrogram.png",
                    "insp table table=audio runs=[runs/eval/DATE] out=experiments/fig15_audio"]))
