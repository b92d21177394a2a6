#!/usr/bin/env bash
# Table 1 (MNIST) at the paper's scale (issue 26 item 6): ALL 60,000 train / 10,000 test MNIST INRs, the same INR
# recipe as the declared CPU scale (conf/experiment/table1_classification/fit.yaml: SIREN 3x32, omega0 10, 60 steps)
# and the same four classifiers and settings (conf/experiment/table1_classification/<model>.yaml), except the number
# of epochs of INSP-ConvNet and its pixel twin, which is chosen on a VALIDATION split of train (INSP-ConvNet trained
# on train INRs 0-49,999, scored on 50,000-59,999; the test INRs are never read there) among EPOCHS_CANDIDATES; the
# twin uses the same count. The weight-space pair keeps the recorded settings (20 epochs for the MLP).
# Every command runs with one torch thread, two side by side ("lanes", as the 2 cores allow). fit, classify, seeds
# and table are in steps.sh (shared with ../paper-scale-meta/, the same steps on meta-fitted INRs):
#   fit       the 10,000 test and the 60,000 train INRs, each split in 2 shards fitted side by side
#   val       INSP-ConvNet for each epoch count of EPOCHS_CANDIDATES: the longest in one lane; the others, then
#             PCA + SVM and the weight MLP (final runs: their settings do not depend on the choice), in the other
#   classify  the chosen epochs: INSP-ConvNet beside the twin; every final run is trained on all 60,000 train INRs
#             and tested once on the 10,000 test INRs; then the table
#   all       fit, val, classify; classify starts as soon as the validation runs have finished (the weight-space
#             pair may still be running beside it: up to 3 commands at once for a while), as recorded
#   seeds     SEEDS="1 2" (default): INSP-ConvNet then its twin again with each seed, one lane per seed; then the table
#   table     rebuild table1.md / table.json from the final runs (every seed that has finished)
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/paper-scale/run_cpu.sh [fit|val|classify|seeds|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
# Run dirs go under runs/recipes/table1_classification/variants/paper-scale/cpu/ (scratch) or, with RECORD=1, under
# this folder's cpu/ (times.txt: wall/user/sys seconds per command; load.txt: the load average at each step's start);
# the stores to $INSP_STORES (default stores/)/table1-full-w10/ (git-ignored data).
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init table1_classification/variants/paper-scale
S=${INSP_STORES:-stores}/table1-full-w10
FIT_ARGS=()
SCALE=full
EPOCHS_CANDIDATES=(${EPOCHS_CANDIDATES:-1 2})  # ascending
source "$(dirname "$0")/steps.sh"
val_run() {  # val_run E: INSP-ConvNet with E epochs on the validation split (steps.sh validate)
  validate "val-insp_convnet-e$1" "$S" "$1" scale=validation
}

weights() {  # the weight-space pair, at the recorded settings (their epochs do not depend on the validation)
  final pca_svm
  final weight_mlp
}

val_then_weights() {  # the shorter candidates, then the weight-space pair (one lane)
  local e
  for e in "$@"; do val_run "$e"; done
  weights
}

val() {  # the longest candidate in one lane; the others, then the weight-space pair, in the other
  local n=${#EPOCHS_CANDIDATES[@]}
  lane val_run "${EPOCHS_CANDIDATES[n - 1]}"
  lane val_then_weights "${EPOCHS_CANDIDATES[@]:0:n-1}"
  join
}

all_validated() {  # true when every candidate's validation run has finished
  local e
  for e in "${EPOCHS_CANDIDATES[@]}"; do ran "$OUT/val-insp_convnet-e$e" || return 1; done
}

run_all() {  # as recorded: classify starts when the validation runs have finished, while the weight-space pair may
  # still run in its lane (classify's join waits for it before the table)
  local n=${#EPOCHS_CANDIDATES[@]}
  fit
  lane val_then_weights "${EPOCHS_CANDIDATES[@]:0:n-1}"
  val_run "${EPOCHS_CANDIDATES[n - 1]}"
  until all_validated || [ -n "$STEP_DIR" ]; do sleep 10; done
  classify
}

chosen() {  # the epoch count whose validation run has the highest final-epoch accuracy (its lines on stderr; a tie
  # goes to the fewer epochs: EPOCHS_CANDIDATES is ascending); the first candidate under INSP_RECIPE_STEPS when no
  # validation ran
  best_on_validation "validation, {c} epochs: {v:.2%}" test_accuracy "val-insp_convnet-e{0}" "${EPOCHS_CANDIDATES[@]}"
}

case "${1:-all}" in
  fit) fit ;;
  val) val ;;
  classify) classify ;;
  seeds) seeds ;;
  table) table ;;
  all) run_all ;;
  *) echo "usage: $0 fit|val|classify|seeds|table|all" >&2; exit 2 ;;
esac
