#!/usr/bin/env bash
# Table 2 and the other low-level tasks at the declared CPU scale (b). Usage, from the repository root:
#   bash experiments/table2_denoising/run_cpu.sh denoise      # or deblur | inpaint | blur | all
# Each step's run directory (metrics.json, logs, tables, PNGs) is written under experiments/table2_denoising/cpu/;
# INR stores go to stores/table2-cpu/, filter checkpoints to filters/table2-cpu/ (both git-ignored data).
# times.txt gets the wall and CPU seconds of every command (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/table2_denoising/cpu
S=stores/table2-cpu
F=filters/table2-cpu
# The INR: SIREN 3x128, omega0 30, 300 full-batch Adam steps (1e-3 -> 5e-5): it memorises the degraded image,
# as in the paper (its noisy inputs decode at 20.5 dB, the noisy images' own PSNR).
FIT=(data=images model.hidden=128 model.depth=3 fit.steps=300 fit.lr=1e-3 fit.lr_final=5e-5 tracking.mode=disabled)
# Pi: MLP 4x256 on the jets up to order 4 (45 features for RGB); AdamW 1e-3 -> 1e-5 cosine, 1200 steps x 4096
# random pixels, each randomly flipped / turned (on the jet) and colour-permuted.
TRAIN=(fusion.order=4 fusion.hidden=256 fusion.layers=4 train.steps=1200 train.batch_points=4096 train.lr=1e-3
       train.lr_final=1e-5 train.augment=true tracking.mode=disabled)
EVAL=(scale=cpu tracking.mode=disabled)

timed() {  # timed NAME insp ARGS...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

run_task() {  # run_task TASK DEGRADATION
  local task=$1 deg=$2
  for split in train test; do
    if [ -f "$OUT/$task/fit-$split/metrics.json" ] && ls $S/$deg-$split/shard-* >/dev/null 2>&1; then
      echo "fit $deg $split: done earlier ($S/$deg-$split), kept"  # keeps that run's metrics.json
      continue
    fi
    timed "fit-$deg-$split" insp fit "${FIT[@]}" data.split=$split degradation=$deg store=$S/$deg-$split \
      hydra.run.dir=$OUT/$task/fit-$split
  done
  timed "train-filter-$task" insp train-filter task=$task "${TRAIN[@]}" store=$S/$deg-train \
    filter=$F/$task.safetensors hydra.run.dir=$OUT/$task/train-filter
  timed "eval-$task" insp eval filter=$F/$task.safetensors store=$S/$deg-test "${EVAL[@]}" \
    hydra.run.dir=$OUT/$task/eval
}

mkdir -p "$OUT"
case "${1:-denoise}" in
  denoise) run_task denoise noise ;;
  deblur) run_task deblur blur ;;
  inpaint) run_task inpaint mask ;;
  blur) run_task blur clean ;;
  all) run_task denoise noise; run_task deblur blur; run_task inpaint mask; run_task blur clean ;;
  *) echo "usage: $0 denoise|deblur|inpaint|blur|all" >&2; exit 2 ;;
esac
