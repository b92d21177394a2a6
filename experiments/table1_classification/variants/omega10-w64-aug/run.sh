#!/usr/bin/env bash
# INSP-ConvNet and its pixel twin at width 64 with coordinate augmentation, on the omega0 = 10 INRs of ../omega10
# (stores/table1-cpu-w10: `insp fit data=mnist model.omega0=10 data.split=train data.limit=10000
# store=stores/table1-cpu-w10/mnist-train` and the same for 2,000 test INRs). From the repository root.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
V=experiments/table1_classification/variants/omega10-w64-aug
S=stores/table1-cpu-w10
C=(train_store=$S/mnist-train test_store=$S/mnist-test epochs=20 model.pool=7 model.width=64 augment.rotation=10
   augment.zoom=0.1 scale=cpu tracking.mode=disabled)
/usr/bin/time -f "insp_convnet %e %U %S" -a -o $V/times.txt insp classify "${C[@]}" model=insp_convnet hydra.run.dir=$V/insp_convnet
/usr/bin/time -f "depthwise_cnn %e %U %S" -a -o $V/times.txt insp classify "${C[@]}" model=depthwise_cnn hydra.run.dir=$V/depthwise_cnn
