#!/usr/bin/env bash
# The spectral-bias study (README.md): SIREN, FFN at sigma 1, 3, 10 and a plain ReLU MLP at one parameter budget
# (~8.7k), fitted to 6 held-out photos (data=photos split=test, 64x64 RGB) by constant-rate Adam; fits of 10, 30, 100,
# 300 and 1000 steps are snapshots of one trajectory per backbone. Then report.py decodes every store: PSNR per photo
# and the error's radial power spectrum (psnr.csv, spectrum.csv), and the figures (psnr_steps.png,
# error_spectrum.png, results.md).
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/spectral_bias/run_cpu.sh
# (RECORD=1 ... re-records the committed results). Settings: conf/experiment/spectral_bias/fit.yaml (the learning
# rates: pilot.txt). Run dirs go under runs/recipes/spectral_bias/cpu/ (scratch, git-ignored; RECIPE_OUT=DIR
# elsewhere), or with RECORD=1 under experiments/spectral_bias/cpu/ and the CSVs and figures beside this script;
# stores under stores/spectral-bias/. times.txt: wall, user, sys seconds. A verified finished fit is kept.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init spectral_bias  # DEST: the CSVs and figures; OUT=$DEST/cpu: the run dirs
S=stores/spectral-bias
declare -A MODEL=(
  [siren]="model=siren"
  [relu]="model=relu"
  [ffn-s1]="model=ffn model.features=64 model.sigma=1"
  [ffn-s3]="model=ffn model.features=64 model.sigma=3"
  [ffn-s10]="model=ffn model.features=64 model.sigma=10"
)
for name in siren relu ffn-s1 ffn-s3 ffn-s10; do
  for steps in 10 30 100 300 1000; do
    d="$OUT/$name-$steps"
    # shellcheck disable=SC2086  # MODEL entries are several overrides
    fit_once "fit $name $steps steps" "$d" "$S/$name-$steps" "fit-$name-$steps" \
      insp fit +experiment=spectral_bias/fit ${MODEL[$name]} fit.steps=$steps \
      store="$S/$name-$steps" hydra.run.dir="$d"
  done
done
timed measure "${PY[@]}" experiments/spectral_bias/report.py measure "$OUT"/*-*/ --out "$DEST"
timed plot "${PY[@]}" experiments/spectral_bias/report.py plot "$DEST"
