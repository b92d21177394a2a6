#!/usr/bin/env bash
# Figs. 8/14 (SDF smoothing) and shape denoising at the declared CPU scale: TRAIN training shapes and the 4 held-out
# test shapes of data=meshes (Debian libcgal-demo, fetched once into $INSP_DATA/debian/ with apt-get download),
# clean INRs for task=smooth and INRs of noisy scans (degradation=vertex_noise) for task=denoise_shape.
# Usage, from the repository root:   bash experiments/fig8_geometry/run_cpu.sh
# (RECORD=1 bash ... re-records the committed results). Run directories, times.txt (the wall, user and system
# seconds of every command) and the table go to runs/recipes/fig8_geometry/ (scratch, git-ignored; RECIPE_OUT=DIR
# elsewhere), or with RECORD=1 to experiments/fig8_geometry/; INR stores to stores/fig8-cpu/, filters to
# filters/fig8-cpu/ (git-ignored data). A fit whose store is complete (verified) is kept: the recipe resumes.
# The settings are Hydra configs, conf/experiment/fig8_cpu/ (fit, train_filter, eval); this script only runs them.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init fig8_geometry  # DEST: the table's folder; OUT=$DEST/cpu: the run dirs
S=stores/fig8-cpu
F=filters/fig8-cpu
# the 18 train shapes of data=meshes: the first 14 train Pi, the last 4 are the validation shapes the context was
# chosen on (experiments/fig8_geometry/README.md); the 4 test shapes are scored once
declare -A RANGE=([train]="data.split=train data.start=0 data.limit=14" \
                  [val]="data.split=train data.start=14 data.limit=4" [test]="data.split=test data.limit=null")

for deg in clean vertex_noise; do
  for split in train val test; do
    if fit_done "$OUT/fit-$deg-$split" "$S/$deg-$split"; then
      echo "fit $deg $split: done earlier ($S/$deg-$split verified), kept"
      continue
    fi
    timed "fit-$deg-$split" insp fit +experiment=fig8_cpu/fit ${RANGE[$split]} degradation=$deg \
      store=$S/$deg-$split hydra.run.dir=$OUT/fit-$deg-$split
  done
done
for task in smooth denoise_shape; do
  deg=$([ $task = smooth ] && echo clean || echo vertex_noise)
  timed "train-filter-$task" insp train-filter +experiment=fig8_cpu/train_filter task=$task store=$S/$deg-train \
    filter=$F/$task.safetensors hydra.run.dir=$OUT/train-filter-$task
  timed "eval-$task" insp eval +experiment=fig8_cpu/eval filter=$F/$task.safetensors store=$S/$deg-test \
    hydra.run.dir=$OUT/eval-$task
done
# task=smooth again at the authors' width: ten 3x3x3 box passes on a 256^3 grid ~ a Gaussian of sigma 0.020
timed train-filter-smooth-s0.02 insp train-filter +experiment=fig8_cpu/train_filter task=smooth task.sigma=0.02 \
  store=$S/clean-train filter=$F/smooth-s0.02.safetensors hydra.run.dir=$OUT/train-filter-smooth-s0.02
timed eval-smooth-s0.02 insp eval +experiment=fig8_cpu/eval filter=$F/smooth-s0.02.safetensors store=$S/clean-test \
  hydra.run.dir=$OUT/eval-smooth-s0.02
timed table insp table table=geometry runs=[$OUT/eval-smooth,$OUT/eval-smooth-s0.02,$OUT/eval-denoise_shape] \
  out=$DEST
