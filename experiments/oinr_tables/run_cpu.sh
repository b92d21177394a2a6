#!/usr/bin/env bash
# O-INR's Tables 1 (representation) and 2 (photon-noise denoising) at the declared CPU scale: SIREN, WIRE, MFN and
# O-INR at an equal parameter budget (10k) and equal steps (300) on 4 scikit-image photos at 64x64 RGB.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/oinr_tables/run_cpu.sh
# Settings: conf/experiment/oinr_tables/fit.yaml. The learning rates below were chosen on the validation photo
# (validate.sh -> val-choices.txt). One `insp fit` per backbone x degradation fits the 4 photos in one batch; run
# dirs under experiments/oinr_tables/cpu/, stores under stores/oinr-tables/. times.txt: wall, user, sys seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/oinr_tables/cpu
S=stores/oinr-tables
ROOT=${INSP_DATA:-data}
declare -A LR=([siren]=LR_SIREN [wire]=LR_WIRE [mfn]=LR_MFN [oinr]=LR_OINR)  # val-choices.txt
mkdir -p "$OUT"

timed() {  # timed NAME CMD...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

sk=$(python -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
mkdir -p "$ROOT/oinr_tables/test"
cp "$sk"/{coffee.png,rocket.jpg,astronaut.png,chelsea.png} "$ROOT/oinr_tables/test/"

for deg in clean poisson; do
  for model in oinr siren mfn wire; do
    d="$OUT/$deg-$model"
    if [ -f "$d/metrics.json" ] && grep -q '"complete"' "$d/metrics.json"; then
      echo "fit $deg $model: done earlier, kept"; continue
    fi
    rm -rf "$S/$deg-$model"
    lr=${LR[$model]}
    timed "fit-$deg-$model" insp fit +experiment=oinr_tables/fit model=$model degradation=$deg \
      data.folder="$ROOT/oinr_tables/test" fit.lr=$lr fit.lr_final=$(python -c "print($lr / 10)") \
      store="$S/$deg-$model" hydra.run.dir="$d"
  done
done
timed table insp table table=oinr "runs=[$OUT/*]" out=experiments/oinr_tables scale=cpu-64
