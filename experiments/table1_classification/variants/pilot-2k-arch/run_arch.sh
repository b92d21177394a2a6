#!/usr/bin/env bash
# The 2k-INR architecture / INR-smoothness pilot (README.md here). From the repository root:
#   bash experiments/table1_classification/variants/pilot-2k-arch/run_arch.sh
# Needs the omega0 = 10 stores of variants/omega10 (stores/table1-cpu-w10, see its fit-*/.hydra/overrides.yaml);
# the omega0 = 7 and 5 stores are fitted here (first 2,000 INRs of each official split) with the MNIST recipe of
# when this was recorded (60 Adam steps 5e-3 -> 1.5e-4, torch's betas, batches of 512), which
# conf/experiment/table1_classification/fit.yaml pins since the default became 35, then 32 steps.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=experiments/table1_classification/variants/pilot-2k-arch
S=stores/table1-cpu-w10
C=(epochs=10 model.pool=7 tracking.mode=disabled scale=custom)
run() {  # run NAME OVERRIDES...
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o $OUT/times.txt insp classify "${C[@]}" "$@" hydra.run.dir=$OUT/$name
}
W10=(train_store=$S/mnist-train test_store=$S/mnist-test train_limit=2000)
run insp-base model=insp_convnet "${W10[@]}"
run insp-K3 model=insp_convnet model.order=3 "${W10[@]}"
run insp-L3 model=insp_convnet model.layers=3 "${W10[@]}"
run insp-w64 model=insp_convnet model.width=64 "${W10[@]}"
run insp-aug model=insp_convnet augment.rotation=10 augment.zoom=0.1 "${W10[@]}"
run cnn-base model=depthwise_cnn "${W10[@]}"
run cnn-aug model=depthwise_cnn augment.rotation=10 augment.zoom=0.1 "${W10[@]}"
run insp-points56 model=insp_convnet model.points=56 "${W10[@]}"
for W in 7 5; do
  for SPLIT in train test; do
    insp fit +experiment=table1_classification/fit model.omega0=$W data.split=$SPLIT data.limit=2000 store=stores/pilot-w$W-$SPLIT \
      tracking.mode=disabled samples=4 hydra.run.dir=$OUT/fit-w$W-$SPLIT
  done
  run insp-omega$W model=insp_convnet train_store=stores/pilot-w$W-train test_store=stores/pilot-w$W-test
  run cnn-omega$W model=depthwise_cnn train_store=stores/pilot-w$W-train test_store=stores/pilot-w$W-test
done
