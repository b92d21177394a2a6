#!/usr/bin/env bash
# Table 1 (MNIST) at the CPU scale of ../../run_cpu.sh (10,000 train / 2,000 test INRs, SIREN 3x32 omega0 10, the
# same INSP-ConvNet and depthwise-CNN settings), on META-FITTED INRs: every INR starts from an initialisation
# learned by `insp meta-learn` (Reptile, docs/meta.md) on train digits 0-59,743 and takes 30 Adam steps (lr 1e-2
# cosine to 1.5e-4) instead of 60 from a random start. K = 30 and the lr were chosen on the held-out train digits
# 59,744-59,999 (README.md here): the smallest K whose PSNR there reaches the random-init recipe's (28.03 dB).
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/meta-init/run_cpu.sh [meta|fit|classify|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
#   RECORD=1 SEEDS="1 2" bash .../run_cpu.sh classify   # adds seeds 1 and 2 (cpu/seed<k>/); the table shows mean ± std
# Run dirs go under runs/recipes/table1_classification/variants/meta-init/cpu/ (scratch) or, with RECORD=1, under
# this folder's cpu/; the init to inits/ (init.sh: its file, its fit settings and `meta`, shared with
# ../paper-scale-meta/) and the stores to stores/table1-cpu-w10-meta/ (git-ignored data).
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init table1_classification/variants/meta-init
S=stores/table1-cpu-w10-meta
source "$(dirname "$0")/init.sh"

fit() {
  local split n
  for split in test train; do
    n=$([ $split = train ] && echo 10000 || echo 2000)
    fit_once "fit $split" "$OUT/fit-$split" "$S/mnist-$split" "fit-$split" \
      insp fit +experiment=table1_classification/fit data.split=$split data.limit=$n "${META_FIT[@]}" \
      store=$S/mnist-$split hydra.run.dir=$OUT/fit-$split
  done
}

classify() {  # the recorded table's two coordinate models on the meta-fitted stores (the cheap one first), per seed
  local seed m
  for seed in ${SEEDS:-0}; do
    for m in depthwise_cnn insp_convnet; do
      timed "classify-$m-seed$seed" insp classify +experiment=table1_classification/$m seed="$seed" \
        train_store=$S/mnist-train test_store=$S/mnist-test scale=cpu-meta-init hydra.run.dir="$(seed_dir $m "$seed")"
    done
  done
  table
}

table() {  # every finished run of the two models, all seeds
  timed table insp table table=table1 "runs=[$(seed_runs insp_convnet depthwise_cnn)]" out=$DEST
}

case "${1:-all}" in
  meta) meta ;;
  fit) fit ;;
  classify) classify ;;
  table) table ;;
  all) meta; fit; classify ;;
  *) echo "usage: $0 meta|fit|classify|table|all" >&2; exit 2 ;;
esac
