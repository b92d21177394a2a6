#!/usr/bin/env bash
# The declared CPU scale of Table 1 (../../run_cpu.sh) with width 128 for both coordinate models. From the
# repository root; needs the omega0 = 10 stores of run_cpu.sh.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
V=experiments/table1_classification/variants/omega10-w128-aug
mkdir -p $V
S=stores/table1-cpu-w10
C=(train_store=$S/mnist-train test_store=$S/mnist-test epochs=20 model.pool=7 model.width=128 augment.rotation=10 augment.zoom=0.1 scale=cpu tracking.mode=disabled)
/usr/bin/time -f "insp_convnet %e %U %S" -a -o $V/times.txt insp classify "${C[@]}" model=insp_convnet hydra.run.dir=$V/insp_convnet
/usr/bin/time -f "depthwise_cnn %e %U %S" -a -o $V/times.txt insp classify "${C[@]}" model=depthwise_cnn hydra.run.dir=$V/depthwise_cnn
