#!/usr/bin/env bash
# Table 1 (MNIST) at the paper's scale on meta-fitted INRs, with the fit CHOSEN ON VALIDATION (issue 26): ../paper-scale-meta/
# fits every INR from the learned init with 30 Adam steps at peak lr 1e-2 (chosen on held-out train digits by PSNR,
# ../meta-init/) and leaves INSP-ConvNet 0.33 points below random-init INRs. Those INRs are 3-5x rougher at derivative
# order 3-4 than random-init ones of higher PSNR (scripts/jet_roughness.py, README.md), and INSP-ConvNet reads
# derivatives up to order 4. Here the fit's peak lr is chosen among LRS by INSP-ConvNet's accuracy on a VALIDATION
# split of train (trained on train INRs 0-49,999, 2 epochs, scored on 50,000-59,999; the test INRs never read):
# lr 1e-2 reads ../paper-scale-meta's stores, every other lr fits its own here. If lr 1e-2 wins, the recorded
# ../paper-scale-meta runs stand and nothing more runs; otherwise INSP-ConvNet and its twin are trained on all 60,000
# INRs of the chosen lr and tested once on its 10,000 test INRs (paper-scale's 2 epochs and settings, not re-chosen).
#   fit       the 10,000 test and 60,000 train INRs of NEW_LR (3e-3), each split in 2 shards side by side
#   val       INSP-ConvNet on the validation split of each lr of LRS, side by side (lr 1e-2's stores must exist:
#             bash ../paper-scale-meta/run_cpu.sh meta; ... fit)
#   classify  the chosen lr's INSP-ConvNet beside its twin, seed 0; then the table
#   seeds     SEEDS="1 2" (default): INSP-ConvNet then its twin again with each seed, one lane per seed; the table
#   table     rebuild table1.md / table.json from the finished runs
#   all       fit, val, classify, seeds (meta: the init, as ../meta-init/init.sh learns it)
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/paper-scale-meta-val/run_cpu.sh [meta|fit|val|classify|seeds|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
# Stores: $INSP_STORES (default stores/)/table1-full-w10-meta-lr<NEW_LR>/ (git-ignored data).
set -euo pipefail
here=$(dirname "$0")
source "$here/../../../lib.sh"
recipe_init table1_classification/variants/paper-scale-meta-val
source "$here/../meta-init/init.sh"
NEW_LR=3e-3
LRS=(1e-2 $NEW_LR)
S=${INSP_STORES:-stores}/table1-full-w10-meta-lr$NEW_LR
S_RECORDED=${INSP_STORES:-stores}/table1-full-w10-meta  # lr 1e-2, ../paper-scale-meta's
FIT_ARGS=(fit.init=$INIT fit.steps=30 fit.lr=$NEW_LR)
SCALE=full-meta-init-lr$NEW_LR
source "$here/../paper-scale/steps.sh"

chosen() { paper_scale_epochs; }  # not re-chosen on meta-fitted INRs (steps.sh)
val_run() {  # val_run LR STORES: INSP-ConvNet on the validation split of the INRs fitted with peak lr LR (steps.sh)
  validate "val-insp_convnet-lr$1" "$2" "$(chosen)"
}
val() {
  lane val_run 1e-2 "$S_RECORDED"
  lane val_run $NEW_LR "$S"
  join
}
chosen_lr() {
  best_on_validation "validation (train INRs 50,000-59,999), fit lr {c}: INSP-ConvNet {v:.2%}" test_accuracy \
    "val-insp_convnet-lr{0}" "${LRS[@]}"
}
on_chosen() {  # on_chosen STEP: STEP when the chosen lr is NEW_LR; with lr 1e-2, ../paper-scale-meta's runs stand
  local lr
  lr=$(chosen_lr)
  echo "the fit's peak lr chosen on validation: $lr"
  if [ "$lr" = 1e-2 ]; then echo "lr 1e-2: the recorded ../paper-scale-meta runs stand (nothing to run)"; return 0; fi
  "$1"
}

case "${1:-all}" in
  meta) meta ;;
  fit) fit ;;
  val) val ;;
  classify) on_chosen classify ;;
  seeds) on_chosen seeds ;;
  table) table ;;
  all) fit; val; on_chosen classify; on_chosen seeds ;;
  *) echo "usage: $0 meta|fit|val|classify|seeds|table|all" >&2; exit 2 ;;
esac
