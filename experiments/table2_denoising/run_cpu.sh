#!/usr/bin/env bash
# Table 2 and the other low-level tasks at the declared CPU scale (b). Usage, from the repository root:
#   bash experiments/table2_denoising/run_cpu.sh denoise      # or deblur | inpaint | blur | all
#   RECORD=1 bash experiments/table2_denoising/run_cpu.sh denoise   # re-records the committed results
#   FIT_PARTS=4 bash ...                                             # the train store fitted by 4 processes at once
# Each step's run directory (metrics.json, logs, tables, PNGs) is written under runs/recipes/table2_denoising/cpu/
# (scratch, git-ignored; RECIPE_OUT=DIR elsewhere), or with RECORD=1 under experiments/table2_denoising/cpu/;
# INR stores go to stores/table2-photos/, filter checkpoints to filters/table2-photos-ctx/ (both git-ignored data).
# times.txt gets the wall and CPU seconds of every command (/usr/bin/time). A fit whose store is complete
# (verified) is kept: the recipe resumes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init table2_denoising  # OUT=$DEST/cpu: the run dirs
S=stores/table2-photos
F=filters/table2-photos-ctx  # Pi with a context (session 7); the pointwise filters of variants/cpu-pointwise: filters/table2-photos
# The settings are Hydra configs, conf/experiment/table2_denoising/: fit.yaml (the photo set at 128x128, SIREN 3x128,
# 150 full-batch Adam steps), train_filter.yaml (Pi, with its context of neighbouring pixels) and eval.yaml.
# This script only loops over the tasks. The paper's pointwise Pi: add fusion.context=0 to train-filter
# (variants/cpu-pointwise/README.md).
# Each task fits the train (95 INRs), val (5) and test (26) splits, trains Pi on train, and scores it on val
# (where its settings were chosen) and on the held-out test photos. Set INSP_THREADS=1 on a shared machine.

fit_split() {  # fit_split TASK DEGRADATION SPLIT: one process, or FIT_PARTS=N concurrent parts of the train store
  local task=$1 deg=$2 split=$3 parts=1 k pids=()
  [ "$split" = train ] && parts=${FIT_PARTS:-1}
  if [ "$parts" = 1 ]; then
    fit_once "fit $deg $split" "$OUT/$task/fit-$split" "$S/$deg-$split" "fit-$deg-$split" \
      insp fit +experiment=table2_denoising/fit data.split=$split degradation=$deg store=$S/$deg-$split \
      hydra.run.dir=$OUT/$task/fit-$split
    return
  fi
  # the 95 train INRs cut into N shards fitted at once (one per core); per-INR seeds: the same INRs as one process
  for ((k = 0; k < parts; k++)); do
    fit_once "fit $deg $split part $k" "$OUT/$task/fit-$split-part$k" "$S/$deg-$split" "fit-$deg-$split-part$k" \
      insp fit +experiment=table2_denoising/fit data.split=$split degradation=$deg \
      fit.shard_size=$(((95 + parts - 1) / parts)) data.shard=$k data.num_shards=$parts store=$S/$deg-$split \
      hydra.run.dir=$OUT/$task/fit-$split-part$k &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k"; done  # a failed part stops the recipe (set -e)
}

run_task() {  # run_task TASK DEGRADATION [EVAL OVERRIDES...]; TEST_EVAL=(...): the test eval's overrides instead
  local task=$1 deg=$2 split; shift 2
  for split in train val test; do
    fit_split "$task" "$deg" "$split"
  done
  if [ "${FIT_ONLY:-0}" = 1 ]; then return; fi  # FIT_ONLY=1: the INR stores only
  timed "train-filter-$task" insp train-filter +experiment=table2_denoising/train_filter task=$task store=$S/$deg-train \
    filter=$F/$task.safetensors hydra.run.dir=$OUT/$task/train-filter
  timed "eval-val-$task" insp eval +experiment=table2_denoising/eval filter=$F/$task.safetensors store=$S/$deg-val \
    hydra.run.dir=$OUT/$task/eval-val "$@"
  [ ${#TEST_EVAL[@]} -gt 0 ] && set -- "${TEST_EVAL[@]}"
  TEST_EVAL=()
  timed "eval-$task" insp eval +experiment=table2_denoising/eval filter=$F/$task.safetensors store=$S/$deg-test \
    hydra.run.dir=$OUT/$task/eval "$@"
}

# denoising is also scored against the strong classical denoisers, each given the known noise sigma, and (test
# only) against its learned pixel twin: a DnCNN with Pi's parameter count and training budget, trained on the
# decoded INRs of Pi's training store (issue 27; filters/baselines/dncnn.py).
DENOISERS="baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]"
TEST_EVAL=()
denoise() {
  TEST_EVAL=("baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d,dncnn]"
             "twin.store=$S/noise-train")
  run_task denoise noise "$DENOISERS"
}
case "${1:-denoise}" in
  denoise) denoise ;;
  deblur) run_task deblur blur ;;
  inpaint) run_task inpaint mask ;;
  blur) run_task blur clean ;;
  all) denoise; run_task deblur blur; run_task inpaint mask; run_task blur clean ;;
  *) echo "usage: $0 denoise|deblur|inpaint|blur|all" >&2; exit 2 ;;
esac
