#!/usr/bin/env bash
# The learning rate of each backbone for experiments/oinr_tables, chosen on the VALIDATION photo (scikit-image
# motorcycle_left, not in the tables), clean, at the tables' scale and steps. Run dirs under val/ and the choice
# (best PSNR; printed) in val-choices.txt of runs/recipes/oinr_tables/ (scratch, git-ignored; RECIPE_OUT=DIR
# elsewhere; run_cpu.sh then uses it), or with RECORD=1 of experiments/oinr_tables/.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/oinr_tables/validate.sh   (RECORD=1 ... re-records)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init oinr_tables val  # OUT=$DEST/val: the run dirs
S=stores/oinr-tables/val
ROOT=${INSP_DATA:-data}
sk=$("${PY[@]}" -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
mkdir -p "$ROOT/oinr_tables/val"
cp "$sk/motorcycle_left.png" "$ROOT/oinr_tables/val/"
for model in siren oinr mfn wire; do
  lrs="5e-4 2e-3 8e-3 3e-2"  # 3e-2 added when 8e-3 came out best (the grid's edge)
  [ $model = oinr ] && lrs="3e-3 1e-2 3e-2 1e-1"  # small O-INRs want larger steps (probe.py); 1e-1: the edge
  [ $model = wire ] && lrs="5e-4 2e-3 8e-3"
  for lr in $lrs; do
    d="$OUT/$model-lr$lr"
    lr_final=$("${PY[@]}" -c "print($lr / 10)")
    fit_once "fit $model lr $lr" "$d" "$S/$model-lr$lr" "val-$model-$lr" \
      insp fit +experiment=oinr_tables/fit model=$model data.folder="$ROOT/oinr_tables/val" \
      fit.batch_size=1 fit.lr=$lr fit.lr_final=$lr_final store="$S/$model-lr$lr" hydra.run.dir="$d" || true
  done
done
[ -z "$STEP_DIR" ] || exit 0  # INSP_RECIPE_STEPS: the fits were cut short, no choice to make
"${PY[@]}" - "$OUT" <<'PY' | tee "$DEST/val-choices.txt"
import json, sys
from pathlib import Path
best = {}
for d in sorted(Path(sys.argv[1]).iterdir()):
    m = d / "metrics.json"
    if not m.is_file():
        continue
    j = json.loads(m.read_text())
    model, lr = d.name.split("-lr")
    psnr = j.get("psnr_mean", float("nan")) if j.get("status") == "complete" else float("nan")
    print(f"{model:6s} lr {lr:>5s}: PSNR {psnr:.2f} dB ({j.get('architecture')}, {j.get('params_per_inr')} params)")
    if psnr == psnr and psnr > best.get(model, (None, -1.0))[1]:
        best[model] = (lr, psnr)
for model, (lr, psnr) in best.items():
    print(f"chosen: {model} fit.lr={lr} ({psnr:.2f} dB on motorcycle_left)")
PY
