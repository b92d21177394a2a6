#!/usr/bin/env bash
# Gradient-domain editing of INRs (issue 28 item 4) at the recorded CPU scale: the 13 held-out bundled test photos
# at 128x128 (data=images split=test), reconstruction of each from its gradients alone, and seamless cloning of
# 8 pairs. Usage, from the repository root:   bash experiments/gradient_blend/run_cpu.sh
# Run directories go under runs/recipes/gradient_blend/cpu/ (scratch, git-ignored; RECORD=1 re-records into
# experiments/gradient_blend/cpu/ and results.csv beside this script), INR stores to stores/gradient-blend/ (git-ignored);
# times.txt gets the wall and CPU seconds of every command. The settings are conf/experiment/gradient_blend/.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init gradient_blend  # DEST: results.csv; OUT=$DEST/cpu: the run dirs (scratch unless RECORD=1)
S=${STORES:-stores/gradient-blend}
export INSP_THREADS=${INSP_THREADS:-1}

fit_once fit "$OUT/fit" "$S/test" fit insp fit +experiment=gradient_blend/fit store=$S/test hydra.run.dir=$OUT/fit
rm -rf "${S:?}/reconstruct" "${S:?}/blend"  # the outputs of blend must not hold INRs yet; run dirs are rewritten in place
timed reconstruct insp blend +experiment=gradient_blend/reconstruct store=$S/test out=$S/reconstruct \
  hydra.run.dir=$OUT/reconstruct
timed blend insp blend +experiment=gradient_blend/blend store=$S/test out=$S/blend hydra.run.dir=$OUT/blend
[ -z "${INSP_RECIPE_STEPS:-}" ] || exit 0  # a quick check of the first command(s): nothing to summarise
"${PY[@]}" - "$OUT" <<'PY'
import csv, json, sys
from pathlib import Path
out = Path(sys.argv[1])
r = json.loads((out / "reconstruct" / "metrics.json").read_text())
b = json.loads((out / "blend" / "metrics.json").read_text())
with open(out.parent / "results.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["task", "index1", "index2", "psnr_inr", "psnr_discrete", "seam_inr", "seam_poisson", "seam_alpha"])
    for p in r["per_pair"]:
        w.writerow(["reconstruct", p["index"], "", f"{p['psnr']:.2f}", f"{p['psnr_discrete_poisson']:.2f}", "", "", ""])
    for p in b["per_pair"]:
        w.writerow(["blend", p["index1"], p["index2"], f"{p['psnr_vs_poisson']:.2f}", "", f"{p['seam_inr']:.4f}",
                    f"{p['seam_poisson']:.4f}", f"{p['seam_alpha']:.4f}"])
print(f"reconstruct: {r['psnr_mean']:.2f} dB mean, {r['psnr_min']:.2f} min; blend vs Poisson "
      f"{b['psnr_vs_poisson_mean']:.2f} dB mean, {b['psnr_vs_poisson_min']:.2f} min; seam INR {b['seam_inr_mean']:.4f}"
      f" Poisson {b['seam_poisson_mean']:.4f} alpha {b['seam_alpha_mean']:.4f}; INR below alpha on "
      f"{b['seam_inr_below_alpha']}/{b['count']}")
PY
