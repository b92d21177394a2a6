#!/usr/bin/env bash
# O-INR's Tables 1 (representation) and 2 (photon-noise denoising) at the declared CPU scale: SIREN, WIRE, MFN and
# O-INR at an equal parameter budget (5k) and equal steps (500) on the paper's scikit-image photos at 48x48 RGB.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/oinr_tables/run_cpu.sh
# Settings: conf/experiment/oinr_tables/fit.yaml. The learning rates below were chosen on the validation photo
# (validate.sh -> val-choices.txt). One `insp fit` per backbone x degradation fits its photos in one batch; run
# dirs under experiments/oinr_tables/cpu/, stores under stores/oinr-tables/. times.txt: wall, user, sys seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/oinr_tables/cpu
S=stores/oinr-tables
ROOT=${INSP_DATA:-data}
declare -A LR
for model in siren wire mfn oinr; do  # the validation's choices (validate.sh)
  LR[$model]=$(sed -n "s/^chosen: $model fit.lr=\([^ ]*\) .*/\1/p" experiments/oinr_tables/val-choices.txt)
  [ -n "${LR[$model]}" ] || { echo "no learning rate for $model in val-choices.txt: run validate.sh" >&2; exit 2; }
done
mkdir -p "$OUT"

timed() {  # timed NAME CMD...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

sk=$(python -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
mkdir -p "$ROOT/oinr_tables/table1" "$ROOT/oinr_tables/table2"  # the photos of each paper table that are here
cp "$sk"/{coffee.png,rocket.jpg} "$ROOT/oinr_tables/table1/"
cp "$sk"/{astronaut.png,chelsea.png,rocket.jpg} "$ROOT/oinr_tables/table2/"

for model in oinr siren mfn wire; do  # WIRE last: the slowest on CPU
  for deg in clean poisson; do
    d="$OUT/$deg-$model"
    if [ -f "$d/metrics.json" ] && grep -q '"complete"' "$d/metrics.json"; then
      echo "fit $deg $model: done earlier, kept"; continue
    fi
    rm -rf "$S/$deg-$model"
    lr=${LR[$model]}
    folder="$ROOT/oinr_tables/$([ $deg = clean ] && echo table1 || echo table2)"
    timed "fit-$deg-$model" insp fit +experiment=oinr_tables/fit model=$model degradation=$deg \
      data.folder="$folder" fit.lr=$lr fit.lr_final=$(python -c "print($lr / 10)") \
      store="$S/$deg-$model" hydra.run.dir="$d"
  done
done
timed table insp table table=oinr "runs=['$OUT/clean-*','$OUT/poisson-*']" out=experiments/oinr_tables scale=cpu-48

# Weight-space classification of MNIST O-INRs (O-INR's kNN on weights) beside INSP-ConvNet on the same digits, at a
# small CPU scale: 1,000 train / 500 test digits (28x28), O-INR 40->4-8-4->1 (2,052 parameters), one shared
# initialisation (fit.shared_init), 100 full-batch steps at lr 1e-2 -> 1e-3 (not validated).
M="data=mnist model=oinr model.widths=[4,8,4] fit.shared_init=true fit.steps=100 fit.lr=1e-2 fit.lr_final=1e-3 samples=16"
for split in train test; do
  n=$([ $split = train ] && echo 1000 || echo 500)
  d="$OUT/mnist/fit-$split"
  if [ -f "$d/metrics.json" ] && grep -q '"complete"' "$d/metrics.json"; then continue; fi
  rm -rf "$S/mnist-$split"
  timed "fit-mnist-$split" insp fit $M data.split=$split data.limit=$n store="$S/mnist-$split" hydra.run.dir="$d"
done
C="train_store=$S/mnist-train test_store=$S/mnist-test scale=cpu-mnist-1k tracking.mode=disabled"
timed classify-knn insp classify model=weight_knn $C hydra.run.dir="$OUT/mnist/knn"
timed classify-insp-convnet insp classify model=insp_convnet model.width=32 model.pool=7 epochs=20 $C \
  hydra.run.dir="$OUT/mnist/insp_convnet"
timed table-mnist insp table table=table1 "runs=[$OUT/mnist/knn,$OUT/mnist/insp_convnet]" \
  out=experiments/oinr_tables/mnist scale=cpu-mnist-1k
