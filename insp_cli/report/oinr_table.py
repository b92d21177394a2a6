"""O-INR's Tables 1-2 (image representation; photon-noise denoising): ``insp fit`` runs -> one row per task x
image, the PSNR of SIREN / WIRE / MFN / O-INR beside the paper's.

A fit run is one (backbone, degradation) over a set of photos; its metrics.json ``per_image`` holds each INR's
PSNR against the clean photo (``psnr_clean``), and ``fit_seconds`` / ``count`` its wall-clock seconds per image
(the photos of a run are fitted in one batch). Degradation ``clean`` is Table 1 (representation), ``poisson`` is
Table 2 (the INR fitted to the noisy photo, scored against the clean one). The paper's photos that are not
available offline (Train, Fern, Walnut, Kodak) have no row; ours that it did not use have no paper numbers.
"""

from __future__ import annotations

from collections import defaultdict

from insp_cli.report.runs import RunRecord
from insp_cli.report.table_kit import Bars, Column, Table, TableSpec, mean_std, need, split_complete

BACKBONES = ("siren", "wire", "mfn", "oinr")
TITLE = {"siren": "SIREN", "wire": "WIRE", "mfn": "MFN", "oinr": "O-INR"}
TASKS = {"clean": "representation", "poisson": "photon noise"}
# Arya et al. (O-INR), Table 1 (PSNR dB and seconds, full-size photos, ~172k parameters) and Table 2 (PSNR dB,
# Poisson noise, peak 30 photons, readout 2, ~130k parameters): (SIREN, WIRE, MFN, O-INR)
PAPER_PSNR = {"representation": {"coffee": (29.91, 31.51, 32.27, 32.04), "rocket": (30.39, 31.46, 30.93, 32.91)},
              "photon noise": {"astronaut": (20.94, 24.48, 25.22, 24.28), "chelsea": (24.8, 27.4, 24.8, 25.1),
                               "rocket": (25.27, 26.27, 25.78, 26.11)}}
PAPER_SECONDS = {"coffee": (68.67, 151.27, 117.76, 101.3), "rocket": (89.39, 198.49, 151.99, 109.63)}


def oinr_table(records: list[RunRecord], scale: str | None):
    psnr: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    seconds: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    noisy: dict[tuple[str, str], list[float]] = defaultdict(list)
    params = {}
    done, failed = split_complete(records, lambda r: f"model={r.get_config('model.kind') or 'siren'}")
    for r in done:
        kind = str(r.get_config("model.kind") or "siren")
        task = TASKS.get(str(r.get_config("degradation.kind")))
        if task is None or kind not in BACKBONES:
            continue
        m = need(r, "per_image", "fit_seconds", "count")
        per_image_s = float(m["fit_seconds"]) / max(int(m["count"]), 1)
        params[kind] = (m.get("params_per_inr"), m.get("architecture"))
        for item in m["per_image"]:
            psnr[(task, item["name"], kind)].append(item["psnr_clean"])
            seconds[(task, item["name"], kind)].append(per_image_s)
            if item.get("psnr_input") is not None:
                noisy[(task, item["name"])].append(item["psnr_input"])
    rows, gaps = [], defaultdict(list)
    for task in TASKS.values():
        for name in sorted({k[1] for k in psnr if k[0] == task}):
            row = {"task": task, "image": name}
            for b in BACKBONES:
                row[f"ours_{b}"] = mean_std(psnr.get((task, name, b), []))[0]
                row[f"time_{b}"] = mean_std(seconds.get((task, name, b), []))[0]
            row["input"] = mean_std(noisy.get((task, name), []))[0]
            paper = PAPER_PSNR[task].get(name) or (None,) * 4
            paper_s = PAPER_SECONDS.get(name) if task == "representation" else None
            for b, v, s in zip(BACKBONES, paper, paper_s or (None,) * 4):
                row[f"paper_{b}"], row[f"paper_time_{b}"] = v, s
            if row["ours_oinr"] is not None and row["ours_siren"] is not None:
                gaps[task].append(row["ours_oinr"] - row["ours_siren"])
            rows.append(row)
    cols = ([Column("task", "Task"), Column("image", "Image"), Column("input", "Noisy input", 2)]
            + [Column(f"ours_{b}", f"Ours: {TITLE[b]}", 2) for b in BACKBONES]
            + [Column(f"paper_{b}", f"Paper: {TITLE[b]}", 2) for b in BACKBONES]
            + [Column(f"time_{b}", f"Ours s/image: {TITLE[b]}", 1) for b in BACKBONES]
            + [Column(f"paper_time_{b}", f"Paper s: {TITLE[b]}", 1) for b in BACKBONES])
    arch = "; ".join(f"{TITLE[b]}: {a} ({p} parameters)" for b, (p, a) in sorted(params.items(),
                                                                                  key=lambda kv: BACKBONES.index(kv[0])))
    notes = ["Ours: PSNR (dB) of the decoded INR against the CLEAN photo (representation: the INR was fitted to it; "
             "photon noise: to its Poisson-noised copy, peak 30 photons, readout 2, not clipped). Noisy input: the "
             "noised photo against the clean one. s/image: wall-clock fit seconds of a run / its photos (fitted in "
             "one batch, on a shared CPU: compare ratios, see scripts/bench_fit.py).",
             "Backbones at an equal parameter budget and equal steps: " + (arch or "—") + ".",
             "Paper: O-INR (Arya et al.) Tables 1 (PSNR, seconds) and 2 (PSNR), full-size photos on a GPU, ~172k / "
             "~130k parameters; chelsea is its 'Cat'. Its Train, Fern, Walnut and Kodak photos are not available "
             "offline."]
    for task, g in gaps.items():
        wins = sum(x > 0 for x in g)
        notes.append(f"{task}: O-INR above SIREN on {wins} of {len(g)} photos; O-INR - SIREN {sum(g) / len(g):+.2f} dB "
                     f"on average (min {min(g):+.2f}, max {max(g):+.2f}).")
    return Table("oinr", "O-INR Tables 1-2: representation and photon-noise PSNR (dB) by INR backbone", scale, cols,
                 rows, notes=notes, failed=failed)


OINR = TableSpec(
    "oinr", "fit", oinr_table, paper={"psnr": PAPER_PSNR, "seconds": PAPER_SECONDS},
    bars=Bars(lambda row: f"{row['image']}\n{row['task']}",
              tuple((f"ours_{b}", f"ours {TITLE[b]}") for b in BACKBONES)
              + (("paper_siren", "paper SIREN"), ("paper_oinr", "paper O-INR")), "PSNR (dB)", ran_only=False))
