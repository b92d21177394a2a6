#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-c7-ens48's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps; its Pi: an MLP 4x256
# on the K = 2 jets at the 7x7 pixels around x, 3,600 AdamW steps, 48-view self-ensemble) with a second stage on top
# of that Pi (a cascade, `fusion.prior`): Pi_2 reads Phi's jets and the first stage's output Psi_1 (its 48 views) at
# 5x5 (c2) or 7x7 (c3) pixels around x, or at 7x7 points 2 or 3 pixels apart (d2c7, d3c7: 13x13 and 19x19 spans),
# trained 3,600 more steps on the same 19 INRs. Chosen on the validation photos among the first stage alone and the
# four cascades (each with 48 views). When a cascade is chosen, the test photos are scored once with it, the
# classical filters and the DnCNN pixel twin beside it (the twin gets both stages' parameters and steps); when the
# first stage is, they are not scored again: it is ../cpu-whole19-c7-ens48's Pi, scored on test there.
# Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-cascade/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/ (shared with the other cpu-whole19-* recipes: fitted once), the
# filters to filters/ (git-ignored data); one torch thread per command; times.txt gets wall and CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-cascade
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F1=filters/table2-photos-whole19/denoise-c3-n3600.safetensors  # the first stage (../cpu-whole19-c7-ens48's Pi)
F2=filters/table2-photos-whole19/denoise-cascade-{0}.safetensors  # {0}: Pi_2's context, below
declare -A CONTEXT=(
  [c2]="fusion.context=2"                           # 5x5 pixels
  [c3]="fusion.context=3"                           # 7x7 pixels
  [d2c7]="fusion.context=6 fusion.context_step=2"   # 7x7 points 2 pixels apart: a 13x13 span
  [d3c7]="fusion.context=9 fusion.context_step=3"   # 7x7 points 3 pixels apart: a 19x19 span
)
NAMES=(c2 c3 d2c7 d3c7)
TF=(insp train-filter +experiment=table2_denoising/train_filter task=denoise store=$S/noise-train train.steps=3600)
EV=(insp eval +experiment=table2_denoising/eval check_2x=false self_ensemble=48)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
timed train-filter-first "${TF[@]}" filter=$F1 fusion.context=3 hydra.run.dir=$OUT/train-filter-first
lane timed eval-val-first "${EV[@]}" filter=$F1 store=$S/noise-val "baselines=[bm3d]" hydra.run.dir=$OUT/eval-val-first
for c in "${NAMES[@]}"; do
  read -ra ctx <<< "${CONTEXT[$c]}"
  lane timed train-filter-$c "${TF[@]}" filter=${F2/\{0\}/$c} "${ctx[@]}" fusion.prior=$F1 fusion.prior_ensemble=48 \
    hydra.run.dir=$OUT/train-filter-$c
  [ $c = c3 ] && join  # two at a time
done
join
for c in "${NAMES[@]}"; do  # the validation photos, BM3D beside Pi (same decoded inputs)
  lane timed eval-val-$c "${EV[@]}" filter=${F2/\{0\}/$c} store=$S/noise-val "baselines=[bm3d]" \
    hydra.run.dir=$OUT/eval-val-$c
  [ $c = c3 ] && join
done
join
best=$(best_on_validation "validation photos, {c}: INSP-Net {v:.3f} dB" rows.insp_net.psnr "eval-val-{0}" \
  first "${NAMES[@]}")
echo "$best chosen on the validation photos"
if [ "$best" = first ]; then
  echo "the first stage alone is ../cpu-whole19-c7-ens48's Pi, scored on the test photos there: they are not scored again"
  exit 0
fi
F=${F2/\{0\}/$best}
# the test photos, scored once with the chosen cascade: the classical filters, and the twin (same views) beside them
lane timed eval-classical "${EV[@]}" filter=$F store=$S/noise-test \
  "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" hydra.run.dir=$OUT/eval-classical
lane timed eval-twin "${EV[@]}" filter=$F store=$S/noise-test "baselines=[dncnn]" twin.store=$S/noise-train \
  hydra.run.dir=$OUT/eval-twin
join
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
