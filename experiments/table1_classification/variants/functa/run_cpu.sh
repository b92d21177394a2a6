#!/usr/bin/env bash
# Table 1 (MNIST) at the paper's scale for the functa classifier (issue 26): ALL 60,000 train / 10,000 test digits
# as functa latents, the functa paper's MLP on them. Every digit is one latent of a functa file learned on train
# digits 0-59,743 (`insp meta-learn meta=functa`, the default SIREN 3x32, d = 64, 900 outer steps; docs/meta.md),
# fitted by 3 Meta-SGD steps on its latent alone (`fit.mode=functa`). The classifier's settings are chosen on a
# VALIDATION split of train (trained on train latents 0-49,999, scored on 50,000-59,999), then the chosen one is
# trained on all 60,000 train latents and tested once on the 10,000 test latents.
# Usage, from the repository root:
#   bash experiments/table1_classification/variants/functa/run_cpu.sh [meta|fit|val|classify|table|all]
#   RECORD=1 bash .../run_cpu.sh all     # re-records the committed results (cpu/, table.json, table1.md)
# Run dirs go under runs/recipes/table1_classification/variants/functa/cpu/ (scratch) or, with RECORD=1, under
# this folder's cpu/; the functa file to $INSP_INITS (default inits/), the stores to $INSP_STORES (default
# stores/)/table1-functa/ (git-ignored data). Each command runs with one torch thread (OMP_NUM_THREADS=1).
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init table1_classification/variants/functa
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
S=${INSP_STORES:-stores}/table1-functa
INIT=${INSP_INITS:-inits}/table1-mnist-functa-w32d3.safetensors
VAL="train_limit=50000 test_offset=50000"  # train latents 0-49,999 -> 50,000-59,999 (the test digits never)

# the classifier settings tried on the validation split (name: overrides of `insp classify classifier=functa_mlp`)
declare -A CAND=(
  [base]=""                                                  # conf/classifier/functa_mlp.yaml, conf/classify.yaml
  [ls-wd]="label_smoothing=0.1 weight_decay=0.1"             # the functa MLP's regularisation (see README.md)
  [ls-wd-noise]="label_smoothing=0.1 weight_decay=0.1 classifier.noise=0.3"   # + noise on the latents
)
ORDER=(base ls-wd ls-wd-noise)

meta() {
  timed meta-learn insp meta-learn data=mnist meta=functa init=$INIT tracking.mode=disabled \
    hydra.run.dir=$OUT/meta-learn
}

fit() {
  local split n
  for split in test train; do
    n=$([ $split = train ] && echo 60000 || echo 10000)
    fit_once "fit $split" "$OUT/fit-$split" "$S/mnist-$split" "fit-$split" \
      insp fit data=mnist data.split=$split data.limit=$n fit.init=$INIT fit.mode=functa \
      fit.steps=3 fit.batch_size=512 samples=0 store=$S/mnist-$split tracking.mode=disabled hydra.run.dir=$OUT/fit-$split
  done
}

val_done() {  # a validation run that finished in this tree (its metrics.json complete, its checkpoint here: a
  # fresh clone has only the records, so there it runs again)
  [ -f "$OUT/val-$1/checkpoint.safetensors" ] && ran "$OUT/val-$1"
}

val() {  # two candidates at a time (one thread each)
  local c
  for c in "${ORDER[@]}"; do
    if val_done "$c"; then
      echo "val-$c: done earlier, kept"
      continue
    fi
    [ ${#LANES[@]} -lt 2 ] || join
    # shellcheck disable=SC2086
    lane timed "val-$c" insp classify classifier=functa_mlp train_store=$S/mnist-train test_store=$S/mnist-train \
      $VAL ${CAND[$c]} scale=validation tracking.mode=disabled hydra.run.dir=$OUT/val-$c
  done
  join
}

chosen() {  # the candidate with the highest validation accuracy (its lines on stderr); the first one under
  # INSP_RECIPE_STEPS when no validation ran
  best_on_validation "validation {c}: {v:.2%}" test_accuracy "val-{0}" "${ORDER[@]}"
}

classify() {  # the chosen settings, all 60,000 train latents, the 10,000 test latents once
  local best
  best=$(chosen)
  echo "chosen on validation: $best (${CAND[$best]:-defaults})"
  # shellcheck disable=SC2086
  timed classify-functa_mlp insp classify classifier=functa_mlp train_store=$S/mnist-train \
    test_store=$S/mnist-test ${CAND[$best]} scale=full-functa tracking.mode=disabled hydra.run.dir=$OUT/functa_mlp
  table
}

table() {
  timed table insp table table=table1 "runs=[$OUT/functa_mlp]" out=$DEST
}

case "${1:-all}" in
  meta) meta ;;
  fit) fit ;;
  val) val ;;
  classify) classify ;;
  table) table ;;
  all) meta; fit; val; classify ;;
  *) echo "usage: $0 meta|fit|val|classify|table|all" >&2; exit 2 ;;
esac
