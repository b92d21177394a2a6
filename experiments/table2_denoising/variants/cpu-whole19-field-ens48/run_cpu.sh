#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-c7-ens48's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps, Pi = MLP 4x256 on the
# K = 2 jets, 3,600 AdamW steps, Pi's 48-view test-time self-ensemble) with Pi's receptive field as the lever, chosen
# on the validation photos among five contexts (README.md):
#   c7     the 7x7 pixels around x (fusion.context=3; the recorded ../cpu-whole19-c7-ens48, 882 features)
#   d2c7   7x7 points two pixels apart, a 13x13 span (fusion.context=6 fusion.context_step=2; 882 features)
#   c9     the 9x9 pixels (fusion.context=4; 1,458 features)
#   ms19   multi-scale: the 7x7 pixels + the 40 other points of the step-3 7x7 (a 19x19 span), values and
#          gradients only there (fusion.coarse_context=9 fusion.coarse_step=3 fusion.coarse_order=1; 1,242 features)
#   ms13   multi-scale: the 7x7 pixels + the 16 points at distance 6 on the step-3 grid (a 13x13 span), their
#          values only (fusion.coarse_context=6 fusion.coarse_step=3 fusion.coarse_order=0; 930 features)
# each scored on the validation photos with 8 and 48 views beside BM3D. The best at 48 views is scored once on test
# with the classical filters, and the DnCNN pixel twin at that Pi's parameter count and steps with the same views;
# when that is c7, the recorded ../cpu-whole19-c7-ens48 already holds its test scores and the recipe stops there
# (the test photos are not scored again; README.md).
# Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-field-ens48/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/ (shared with ../cpu-whole19-c7-ens48/run_cpu.sh: fitted once), the
# filters to filters/ (git-ignored data); one torch thread per command; times.txt gets wall and CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-field-ens48
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F=filters/table2-photos-whole19/denoise-{0}-n3600.safetensors  # {0}: the candidate's name
declare -A CONTEXT=(
  [c7]="fusion.context=3"
  [d2c7]="fusion.context=6 fusion.context_step=2"
  [c9]="fusion.context=4"
  [ms19]="fusion.context=3 fusion.coarse_context=9 fusion.coarse_step=3 fusion.coarse_order=1"
  [ms13]="fusion.context=3 fusion.coarse_context=6 fusion.coarse_step=3 fusion.coarse_order=0"
)
NAMES=(c7 d2c7 c9 ms19 ms13)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
for c in "${NAMES[@]}"; do
  read -ra ctx <<< "${CONTEXT[$c]}"
  timed train-filter-$c insp train-filter +experiment=table2_denoising/train_filter task=denoise \
    store=$S/noise-train filter=${F/\{0\}/$c} train.steps=3600 "${ctx[@]}" \
    hydra.run.dir=$OUT/train-filter-$c
  for e in 8 48; do  # the validation photos, BM3D beside Pi (same decoded inputs)
    timed eval-val-$c-e$e insp eval +experiment=table2_denoising/eval filter=${F/\{0\}/$c} check_2x=false \
      store=$S/noise-val "baselines=[bm3d]" self_ensemble=$e hydra.run.dir=$OUT/eval-val-$c-e$e
  done
done
c=$(best_on_validation "validation photos, 48 views, context {c}: INSP-Net {v:.2f} dB" rows.insp_net.psnr "eval-val-{0}-e48" \
  "${NAMES[@]}")
echo "context $c (${CONTEXT[$c]}) chosen on the validation photos"
if [ "$c" = c7 ]; then
  echo "c7 is ../cpu-whole19-c7-ens48's Pi, scored on the test photos there: they are not scored again"
  exit 0
fi
EVAL=(insp eval +experiment=table2_denoising/eval filter=${F/\{0\}/$c} check_2x=false store=$S/noise-test self_ensemble=48)
# the test photos, scored once with the chosen Pi: the classical filters, then the twin (same views)
timed eval-classical "${EVAL[@]}" "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" \
  hydra.run.dir=$OUT/eval-classical
timed eval-twin "${EVAL[@]}" "baselines=[dncnn]" twin.store=$S/noise-train hydra.run.dir=$OUT/eval-twin
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
