#!/usr/bin/env bash
# The first recording of Table 1 at the CPU scale (until 2026-11-30): SIREN omega0 30 INRs, width 32, pool 4, no
# augmentation, 30 epochs. The declared CPU scale is ../../run_cpu.sh since. Same splits: 10,000 training and 2,000 test INRs of the official MNIST splits.
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/omega30-pool4/run.sh fit        # the two INR stores
#   bash experiments/table1_classification/variants/omega30-pool4/run.sh classify   # the four classifiers, then the table
#   bash experiments/table1_classification/variants/omega30-pool4/run.sh all
# Run directories (metrics.json, history.csv, confusion.png, logs) go here;
# the INR stores to stores/table1-cpu/ (git-ignored data). times.txt gets wall/user/sys seconds per command.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=experiments/table1_classification/variants/omega30-pool4
S=stores/table1-cpu
# The settings are Hydra configs, conf/experiment/table1_classification/omega30_pool4/: fit.yaml (SIREN 3x32, omega0 30, 80 full-batch
# Adam steps 3e-3 -> 1.5e-4) and classify.yaml (the stores below; every classifier at its defaults).

timed() {  # timed NAME insp ARGS...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

fit() {
  timed fit-test insp fit +experiment=table1_classification/omega30_pool4/fit data.split=test data.limit=2000 store=$S/mnist-test \
    hydra.run.dir=$OUT/fit-test
  timed fit-train insp fit +experiment=table1_classification/omega30_pool4/fit data.split=train data.limit=10000 store=$S/mnist-train \
    hydra.run.dir=$OUT/fit-train
}

classify() {
  # INSP-ConvNet (2 INSP-Conv layers of order 2, width 32), its pixel twin (2 depthwise 3x3 layers, width 32) and
  # the weight-space pair, on the same INRs
  local m
  for m in insp_convnet depthwise_cnn pca_svm weight_mlp; do
    timed classify-$m insp classify model=$m +experiment=table1_classification/omega30_pool4/classify hydra.run.dir=$OUT/$m
  done
  insp table table=table1 "runs=[$OUT/insp_convnet,$OUT/depthwise_cnn,$OUT/pca_svm,$OUT/weight_mlp]" \
    out=$OUT
}

mkdir -p "$OUT"
case "${1:-all}" in
  fit) fit ;;
  classify) classify ;;
  all) fit; classify ;;
  *) echo "usage: $0 fit|classify|all" >&2; exit 2 ;;
esac
