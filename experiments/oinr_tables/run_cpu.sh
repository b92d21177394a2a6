#!/usr/bin/env bash
# O-INR's Tables 1 (representation) and 2 (photon-noise denoising) at the declared CPU scale: SIREN, WIRE, MFN and
# O-INR at an equal parameter budget (5k) and equal steps (500) on the paper's scikit-image photos at 48x48 RGB.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/oinr_tables/run_cpu.sh
# (RECORD=1 ... re-records the committed results).
# Settings: conf/experiment/oinr_tables/fit.yaml. The learning rates below were chosen on the validation photo
# (validate.sh -> val-choices.txt: the one this run's validate.sh wrote beside it, else the recorded one). One
# `insp fit` per backbone x degradation fits its photos in one batch; run dirs (cpu/, cpu/mnist/) and the tables go
# under runs/recipes/oinr_tables/ (scratch, git-ignored; RECIPE_OUT=DIR elsewhere), or with RECORD=1 under
# experiments/oinr_tables/; stores under stores/oinr-tables/. times.txt: wall, user, sys seconds. A fit whose store
# is complete (verified) is kept: the recipe resumes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init oinr_tables  # DEST: the tables' folder; OUT=$DEST/cpu: the run dirs
S=stores/oinr-tables
ROOT=${INSP_DATA:-data}
CHOICES=$DEST/val-choices.txt
[ -f "$CHOICES" ] || CHOICES=experiments/oinr_tables/val-choices.txt
echo "learning rates from $CHOICES"
declare -A LR
for model in siren wire mfn oinr; do  # the validation's choices (validate.sh)
  LR[$model]=$(sed -n "s/^chosen: $model fit.lr=\([^ ]*\) .*/\1/p" "$CHOICES")
  [ -n "${LR[$model]}" ] || die "no learning rate for $model in $CHOICES: run validate.sh"
done

sk=$("${PY[@]}" -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
mkdir -p "$ROOT/oinr_tables/table1" "$ROOT/oinr_tables/table2"  # the photos of each paper table that are here
cp "$sk"/{coffee.png,rocket.jpg} "$ROOT/oinr_tables/table1/"
cp "$sk"/{astronaut.png,chelsea.png,rocket.jpg} "$ROOT/oinr_tables/table2/"

for model in oinr siren mfn wire; do  # WIRE last: the slowest on CPU
  for deg in clean poisson; do
    d="$OUT/$deg-$model"
    lr=${LR[$model]}
    folder="$ROOT/oinr_tables/$([ $deg = clean ] && echo table1 || echo table2)"
    fit_once "fit $deg $model" "$d" "$S/$deg-$model" "fit-$deg-$model" \
      insp fit +experiment=oinr_tables/fit model=$model degradation=$deg \
      data.folder="$folder" fit.lr=$lr fit.lr_final=$("${PY[@]}" -c "print($lr / 10)") \
      store="$S/$deg-$model" hydra.run.dir="$d"
  done
done
timed table insp table table=oinr "runs=['$OUT/clean-*','$OUT/poisson-*']" out=$DEST scale=cpu-48

# Weight-space classification of MNIST O-INRs (O-INR's kNN on weights) beside INSP-ConvNet on the same digits, at a
# small CPU scale: 1,000 train / 500 test digits (28x28), O-INR 40->4-8-4->1 (2,052 parameters), one shared
# initialisation (fit.shared_init), 100 full-batch steps at lr 1e-2 -> 1e-3 (not validated).
M="data=mnist model=oinr model.widths=[4,8,4] fit.shared_init=true fit.steps=100 fit.lr=1e-2 fit.lr_final=1e-3"
M="$M fit.warmup=0 fit.beta1=0.9 fit.beta2=0.999 fit.batch_size=512 samples=16"  # as recorded (not the short MNIST default)
for split in train test; do
  n=$([ $split = train ] && echo 1000 || echo 500)
  d="$OUT/mnist/fit-$split"
  fit_once "fit mnist $split" "$d" "$S/mnist-$split" "fit-mnist-$split" \
    insp fit $M data.split=$split data.limit=$n store="$S/mnist-$split" hydra.run.dir="$d"
done
C="train_store=$S/mnist-train test_store=$S/mnist-test scale=cpu-mnist-1k tracking.mode=disabled"
timed classify-knn insp classify classifier=weight_knn $C hydra.run.dir="$OUT/mnist/knn"
timed classify-insp-convnet insp classify classifier=insp_convnet classifier.width=32 classifier.pool=7 epochs=20 $C \
  hydra.run.dir="$OUT/mnist/insp_convnet"
timed table-mnist insp table table=table1 "runs=[$OUT/mnist/knn,$OUT/mnist/insp_convnet]" \
  out=$DEST/mnist scale=cpu-mnist-1k
