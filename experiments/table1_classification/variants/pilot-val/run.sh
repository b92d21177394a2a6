#!/usr/bin/env bash
# Pilot with a validation split: train on INRs 0..1999 of the ω0 = 10 training store, score on its INRs
# 8000..9999 (never the test store), 10 epochs, the declared CPU scale's settings otherwise.
# Usage, from the repository root: bash experiments/table1_classification/variants/pilot-val/run.sh [RUN ...]
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=experiments/table1_classification/variants/pilot-val
S=stores/table1-cpu-w10/mnist-train
BASE=(train_store=$S test_store=$S train_limit=2000 test_offset=8000 test_limit=2000 epochs=10
      model.width=64 model.pool=7 augment.rotation=10 augment.zoom=0.1 tracking.mode=disabled)
declare -A RUNS=(
  [insp-base]="model=insp_convnet"
  [cnn-base]="model=depthwise_cnn"
  [insp-lr6e-3]="model=insp_convnet lr=6e-3"
  [insp-points42]="model=insp_convnet model.points=42"
  [insp-translate]="model=insp_convnet augment.translate=0.04"
  [cnn-translate]="model=depthwise_cnn augment.translate=0.04"
  [insp-softplus]="model=insp_convnet model.activation=softplus"
  [insp-ep20]="model=insp_convnet epochs=20"
  [cnn-ep20]="model=depthwise_cnn epochs=20"
  [insp-orders211]="model=insp_convnet model.layers=3 model.order=[2,1,1]"
  [insp-orders31]="model=insp_convnet model.order=[3,1]"
  [insp-orders13]="model=insp_convnet model.order=[1,3]"
  [insp-pool4]="model=insp_convnet model.pool=4"
  # the 9 moments of a 3x3 kernel per layer (every alpha_i <= 2 of |alpha| <= 4): input jets of order 8
  [insp-axis2]="model=insp_convnet model.order=4 model.axis_order=2"
  # the same rows of the omega0 = 30 training store (the first recording's INRs, 50.6 dB)
  [insp-omega30]="model=insp_convnet train_store=stores/table1-cpu/mnist-train test_store=stores/table1-cpu/mnist-train"
  [cnn-omega30]="model=depthwise_cnn train_store=stores/table1-cpu/mnist-train test_store=stores/table1-cpu/mnist-train"
)
for name in "${@:-insp-base cnn-base}"; do
  for r in $name; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "$r %e %U %S" -a -o "$OUT/times.txt" \
      insp classify "${BASE[@]}" ${RUNS[$r]} hydra.run.dir=$OUT/$r
  done
done
