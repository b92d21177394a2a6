#!/usr/bin/env bash
# Table 1 (MNIST) at the declared CPU scale: 10,000 training and 2,000 test INRs of the official MNIST splits.
# Usage, from the repository root:
#   bash experiments/table1_classification/run_cpu.sh fit        # the two INR stores
#   bash experiments/table1_classification/run_cpu.sh classify   # the four classifiers, then the table
#   bash experiments/table1_classification/run_cpu.sh all
#   SEEDS="0 1 2" bash experiments/table1_classification/run_cpu.sh classify  # three seeds, as recorded (default: 0)
#   bash experiments/table1_classification/run_cpu.sh table      # only rebuild the table from what ran
#   RECORD=1 bash experiments/table1_classification/run_cpu.sh all  # re-records the committed results
# Run directories (metrics.json, history.csv, confusion.png, logs) and the table go under
# runs/recipes/table1_classification/ (scratch, git-ignored; RECIPE_OUT=DIR elsewhere), or with RECORD=1 under
# experiments/table1_classification/: seed 0 in cpu/<model>, seed k in cpu/seed<k>/<model>; the table shows
# mean ± std over the seeds that ran; the INR stores to stores/table1-cpu-w10/ (git-ignored data). times.txt gets
# wall/user/sys seconds per command. A fit whose store is complete (verified) is kept: the recipe resumes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init table1_classification  # DEST: the table's folder; OUT=$DEST/cpu: the run dirs
S=stores/table1-cpu-w10
# The settings are Hydra configs, conf/experiment/table1_classification/: fit.yaml (the INRs: SIREN 3x32, omega0 10) and
# one per classifier (classify.yaml: the stores below, 20 epochs; INSP-ConvNet and its pixel twin: width 64, pool
# 7, rotation and zoom augmentation). This script only loops over the models and seeds.

fit() {
  local split n
  for split in test train; do
    n=$([ $split = train ] && echo 10000 || echo 2000)
    fit_once "fit $split" "$OUT/fit-$split" "$S/mnist-$split" "fit-$split" \
      insp fit +experiment=table1_classification/fit data.split=$split data.limit=$n store=$S/mnist-$split \
      hydra.run.dir=$OUT/fit-$split
  done
}

classify() {
  # INSP-ConvNet: 2 INSP-Conv layers of order 2 (inputs: the INRs' jets up to order 4); its pixel twin: 2 depthwise
  # 3x3 layers on the images decoded from the same INRs (at the same augmented points); then the weight-space pair
  local seed m
  for seed in ${SEEDS:-0}; do
    for m in insp_convnet depthwise_cnn pca_svm weight_mlp; do
      timed "classify-$m-seed$seed" insp classify +experiment=table1_classification/$m seed="$seed" \
        hydra.run.dir="$(seed_dir $m "$seed")"
    done
  done
  table
}

table() {  # every finished run of the four models, all seeds
  timed table insp table table=table1 "runs=[$(seed_runs insp_convnet depthwise_cnn pca_svm weight_mlp)]" out=$DEST
}

case "${1:-all}" in
  fit) fit ;;
  classify) classify ;;
  table) table ;;
  all) fit; classify ;;
  *) echo "usage: $0 fit|classify|table|all" >&2; exit 2 ;;
esac
