#!/usr/bin/env bash
# Table 1 (MNIST) at the paper's scale on meta-fitted INRs fitted with a PULL TO THE LEARNED INIT (issue 26):
# ../paper-scale-meta-val/ found the meta-fitted INRs 2.5-5x rougher at derivative orders 3-4 than random-init ones
# (scripts/jet_roughness.py) and INSP-ConvNet, which reads orders up to 4, 0.18-0.33 points below random-init INRs.
# Here every INR is fitted from the learned init with fit.prox (L2-SP: + prox/2 ||theta - theta_0||^2): PROX 0.3,
# 45 steps at peak lr 1e-2, picked by label-free roughness and PSNR on 300 validation-split train digits (README.md:
# order-4 RMS 5.4 at 29.5 dB against random init's 4.5 at 28.8 dB). INSP-ConvNet is trained on train INRs
# 0-49,999 and scored on 50,000-59,999 beside ../paper-scale-meta-val's two recorded candidates (lr 1e-2, lr 3e-3);
# if this fit wins on validation, INSP-ConvNet and its twin are trained on all 60,000 and tested once on the 10,000
# test INRs (paper-scale's 2 epochs and settings, not re-chosen); otherwise the recorded choice stands.
#   fit       the 10,000 test and 60,000 train INRs of each candidate, each split in 2 shards side by side
#   val       INSP-ConvNet on the validation split of each candidate's INRs
#   classify  if one of these is chosen: INSP-ConvNet beside its twin, seed 0; then the table
#   seeds     if chosen: SEEDS="1 2" (default), one lane per seed; the table
#   table     rebuild table1.md / table.json from the finished runs
#   all       fit, val, classify, seeds (meta: the init, as ../meta-init/init.sh learns it)
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/paper-scale-meta-prox/run_cpu.sh [meta|fit|val|classify|seeds|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
# Stores: $INSP_STORES (default stores/)/table1-full-w10-meta-prox/ (git-ignored data).
set -euo pipefail
here=$(dirname "$0")
source "$here/../../../lib.sh"
recipe_init table1_classification/variants/paper-scale-meta-prox
source "$here/../meta-init/init.sh"
PROX=0.3
S=${INSP_STORES:-stores}/table1-full-w10-meta-prox
FIT_ARGS=(fit.init=$INIT fit.steps=45 fit.lr=1e-2 fit.prox=$PROX)
SCALE=full-meta-init-prox$PROX
source "$here/../paper-scale/steps.sh"
RECORDED=experiments/table1_classification/variants/paper-scale-meta-val/cpu  # the lr 1e-2 and lr 3e-3 candidates
# the second candidate (added after the first lost on validation): pull 0.5, 60 steps, the fit whose PSNR (28.78 dB)
# and roughness (order 4: 4.95) match random-init INRs' (28.77 dB, 4.50) on the 300 validation-split digits
S2=${INSP_STORES:-stores}/table1-full-w10-meta-prox0.5-k60

chosen() { paper_scale_epochs; }  # not re-chosen on meta-fitted INRs (steps.sh)
fit2() {  # the second candidate's 70,000 INRs, run dirs under $OUT/prox0.5-k60/ (steps.sh's fit)
  local S=$S2 OUT=$OUT/prox0.5-k60 FIT_ARGS=(fit.init=$INIT fit.steps=60 fit.lr=1e-2 fit.prox=0.5)
  mkdir -p "$OUT"
  fit
}
val() { validate val-insp_convnet-prox$PROX "$S" "$(chosen)"; }
val2() { validate val-insp_convnet-prox0.5-k60 "$S2" "$(chosen)"; }
chosen_fit() {  # the recorded candidates' runs and these, by their repository paths
  OUT=. best_on_validation "validation (train INRs 50,000-59,999), {c}: INSP-ConvNet {v:.2%}" test_accuracy "{0}" \
    "$RECORDED/val-insp_convnet-lr3e-3" "$RECORDED/val-insp_convnet-lr1e-2" "$OUT/val-insp_convnet-prox$PROX" \
    "$OUT/val-insp_convnet-prox0.5-k60"
}
on_chosen() {  # on_chosen STEP: STEP on the stores of the candidate chosen on validation if it is one of these two
  local c
  c=$(chosen_fit)
  echo "chosen on validation: $c"
  case "$c" in
    "$OUT/val-insp_convnet-prox$PROX") ;;
    "$OUT/val-insp_convnet-prox0.5-k60") S=$S2 SCALE=full-meta-init-prox0.5-k60
      C="train_store=$S/mnist-train test_store=$S/mnist-test" ;;
    *) echo "the recorded choice stands (nothing to run)"; return 0 ;;
  esac
  "$1"
}

case "${1:-all}" in
  meta) meta ;;
  fit) fit; fit2 ;;
  val) val; val2 ;;
  classify) on_chosen classify ;;
  seeds) on_chosen seeds ;;
  table) table ;;
  all) fit; fit2; val; val2; on_chosen classify; on_chosen seeds ;;
  *) echo "usage: $0 meta|fit|val|classify|seeds|table|all" >&2; exit 2 ;;
esac
