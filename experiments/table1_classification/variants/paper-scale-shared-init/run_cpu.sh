#!/usr/bin/env bash
# A diagnostic of Table 1 at the paper's scale (issue 26), validation only: do INSP-ConvNet's random-init INRs gain
# from each starting at its OWN random draw? ../paper-scale-meta-prox/ made meta-fitted INRs as smooth as random-init
# ones at the same PSNR and INSP-ConvNet still scored 0.14 points lower on validation; one difference left is that
# meta-fitted INRs all share one start. Here paper-scale's random-init fit runs unchanged except fit.shared_init=true
# (all 70,000 INRs start from one random draw), and INSP-ConvNet (paper-scale's settings, 2 epochs, seed 0) is
# trained on train INRs 0-49,999 and scored on 50,000-59,999, beside paper-scale's recorded validation run. The test
# INRs are fitted (steps.sh's fit) but never read.
#   fit   the 10,000 test and 60,000 train INRs, each split in 2 shards side by side
#   val   INSP-ConvNet on the validation split
#   all   fit, val
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/paper-scale-shared-init/run_cpu.sh [fit|val|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/)
# Stores: $INSP_STORES (default stores/)/table1-full-w10-shared/ (git-ignored data).
set -euo pipefail
here=$(dirname "$0")
source "$here/../../../lib.sh"
recipe_init table1_classification/variants/paper-scale-shared-init
S=${INSP_STORES:-stores}/table1-full-w10-shared
FIT_ARGS=(fit.shared_init=true)
SCALE=full-shared-init
source "$here/../paper-scale/steps.sh"

val() { validate val-insp_convnet-e2 "$S" 2 scale=validation; }

case "${1:-all}" in
  fit) fit ;;
  val) val ;;
  all) fit; val ;;
  *) echo "usage: $0 fit|val|all" >&2; exit 2 ;;
esac
