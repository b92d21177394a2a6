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
# The INRs: SIREN 3x32, omega0 30, 80 full-batch Adam steps 3e-3 -> 1.5e-4, batches of 512 (the MNIST recipe of
# `insp fit` when these were recorded; it is 60 steps at 5e-3 since, docs/benchmarks.md).
FIT=(data=mnist fit.steps=80 fit.lr=3e-3 tracking.mode=disabled samples=16)
STORES=(train_store=$S/mnist-train test_store=$S/mnist-test scale=cpu tracking.mode=disabled)

timed() {  # timed NAME insp ARGS...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

fit() {
  timed fit-test insp fit "${FIT[@]}" data.split=test data.limit=2000 store=$S/mnist-test hydra.run.dir=$OUT/fit-test
  timed fit-train insp fit "${FIT[@]}" data.split=train data.limit=10000 store=$S/mnist-train \
    hydra.run.dir=$OUT/fit-train
}

classify() {
  # INSP-ConvNet: 2 INSP-Conv layers of order 2 (inputs: the INRs' jets up to order 4), width 32
  timed classify-insp_convnet insp classify model=insp_convnet "${STORES[@]}" hydra.run.dir=$OUT/insp_convnet
  # its pixel twin: 2 depthwise 3x3 layers, width 32, on the images decoded from the same INRs
  timed classify-depthwise_cnn insp classify model=depthwise_cnn "${STORES[@]}" hydra.run.dir=$OUT/depthwise_cnn
  timed classify-pca_svm insp classify model=pca_svm "${STORES[@]}" hydra.run.dir=$OUT/pca_svm
  timed classify-weight_mlp insp classify model=weight_mlp "${STORES[@]}" hydra.run.dir=$OUT/weight_mlp
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
