#!/usr/bin/env bash
# Fig. 15 (audio denoising) at the declared CPU scale: 354 training clips (the whole train split) and 16 test
# speech clips of 1.5 s at 8 kHz (data=audio, Debian asterisk-core-sounds-en-wav, fetched once into
# $INSP_DATA/debian/ with apt-get download).
# Usage, from the repository root:   bash experiments/fig15_audio/run_cpu.sh
# (RECORD=1 bash ... re-records the committed results). Run directories, times.txt (the wall and CPU seconds of
# every command) and the table go to runs/recipes/fig15_audio/ (scratch, git-ignored; RECIPE_OUT=DIR elsewhere), or
# with RECORD=1 to experiments/fig15_audio/; INR stores to stores/fig15-cpu/, the filter to filters/fig15-cpu/
# (git-ignored data). A fit whose store is complete (verified) is kept: the recipe resumes.
# The settings are Hydra configs, conf/experiment/fig15_audio/ (fit, train_filter, eval); this script only runs them.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init fig15_audio  # DEST: the table's folder; OUT=$DEST/cpu: the run dirs
S=stores/fig15-cpu
F=filters/fig15-cpu
TRAIN=${TRAIN:-354}
TEST=${TEST:-16}

for split in train test; do
  limit=$([ $split = train ] && echo "$TRAIN" || echo "$TEST")
  fit_once "fit $split" "$OUT/fit-$split" "$S/noise-$split" "fit-$split" \
    insp fit +experiment=fig15_audio/fit data.split=$split data.limit=$limit \
    store=$S/noise-$split hydra.run.dir=$OUT/fit-$split
done
timed train-filter insp train-filter +experiment=fig15_audio/train_filter task=denoise store=$S/noise-train \
  filter=$F/denoise.safetensors hydra.run.dir=$OUT/train-filter
timed eval insp eval +experiment=fig15_audio/eval filter=$F/denoise.safetensors store=$S/noise-test \
  hydra.run.dir=$OUT/eval
timed table insp table table=audio runs=[$OUT/eval] out=$DEST
