#!/usr/bin/env bash
# Table 1 (MNIST) at the paper's scale on META-FITTED INRs (issue 26): ../paper-scale/ (all 60,000 train / 10,000
# test INRs, INSP-ConvNet and its depthwise-CNN pixel twin) with the INRs of ../meta-init/: every INR starts from
# the SIREN initialisation learned by `insp meta-learn` (Reptile on train digits only, ../meta-init/init.sh) and
# takes 30 Adam steps (lr 1e-2 cosine to 1.5e-4) instead of 60 from a random start. Nothing else changes: the steps
# are paper-scale's (../paper-scale/steps.sh), and the epochs of both classifiers are the ones paper-scale chose on
# its validation split (random-init INRs: ../paper-scale/cpu/val-insp_convnet-e*), not re-chosen here. PCA + SVM
# and the weight MLP are not run (the target compares INSP-ConvNet on the two kinds of INRs).
#   meta      learn the init (inits/, git-ignored; deterministic)
#   fit       the 10,000 test and the 60,000 train INRs from it, each split in 2 shards fitted side by side
#   classify  INSP-ConvNet beside its twin, seed 0, trained on all 60,000, tested once on the 10,000; then the table
#   seeds     SEEDS="1 2" (default): INSP-ConvNet then its twin again with each seed, one lane per seed; the table
#   table     rebuild table1.md / table.json from the finished runs (every seed)
#   all       meta, fit, classify, seeds
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/paper-scale-meta/run_cpu.sh [meta|fit|classify|seeds|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
# Run dirs go under runs/recipes/table1_classification/variants/paper-scale-meta/cpu/ (scratch) or, with RECORD=1,
# under this folder's cpu/ (times.txt: wall/user/sys seconds per command; load.txt: the load average at each step's
# start); the stores to $INSP_STORES (default stores/)/table1-full-w10-meta/ (git-ignored data).
set -euo pipefail
here=$(dirname "$0")
source "$here/../../../lib.sh"
recipe_init table1_classification/variants/paper-scale-meta
source "$here/../meta-init/init.sh"
S=${INSP_STORES:-stores}/table1-full-w10-meta
FIT_ARGS=("${META_FIT[@]}")
SCALE=full-meta-init
source "$here/../paper-scale/steps.sh"
chosen() { paper_scale_epochs; }  # not re-chosen on meta-fitted INRs (steps.sh)

case "${1:-all}" in
  meta) meta ;;
  fit) fit ;;
  classify) classify ;;
  seeds) seeds ;;
  table) table ;;
  all) meta; fit; classify; seeds ;;
  *) echo "usage: $0 meta|fit|classify|seeds|table|all" >&2; exit 2 ;;
esac
