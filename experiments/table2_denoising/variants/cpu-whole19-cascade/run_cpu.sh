#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-c7-ens48's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps; its Pi: an MLP 4x256
# on the K = 2 jets at the 7x7 pixels around x, 3,600 AdamW steps, 48-view self-ensemble) with a second stage on top
# of that Pi (a cascade, `fusion.prior`): Pi_2 reads Phi's jets and the first stage's output Psi_1 (its 48 views) at
# the 5x5 (fusion.context=2) or 7x7 (3) pixels around x, trained 3,600 more steps on the same 19 INRs. Chosen on the
# validation photos among the first stage alone and the two cascades (each with 48 views); the test photos are
# scored once with the choice, the classical filters and the DnCNN pixel twin beside it (the twin gets the chosen
# filter's parameters and steps: both stages' for a cascade).
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
F2=filters/table2-photos-whole19/denoise-cascade-c{0}.safetensors  # {0}: Pi_2's context (2: 5x5 pixels, 3: 7x7)
TF=(insp train-filter +experiment=table2_denoising/train_filter task=denoise store=$S/noise-train train.steps=3600)
EV=(insp eval +experiment=table2_denoising/eval check_2x=false self_ensemble=48)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
timed train-filter-first "${TF[@]}" filter=$F1 fusion.context=3 hydra.run.dir=$OUT/train-filter-first
lane timed eval-val-first "${EV[@]}" filter=$F1 store=$S/noise-val "baselines=[bm3d]" hydra.run.dir=$OUT/eval-val-first
for c in 2 3; do
  lane timed train-filter-c$c "${TF[@]}" filter=${F2/\{0\}/$c} fusion.context=$c fusion.prior=$F1 \
    fusion.prior_ensemble=48 hydra.run.dir=$OUT/train-filter-c$c
done
join
for c in 2 3; do  # the validation photos, BM3D beside Pi (same decoded inputs)
  lane timed eval-val-c$c "${EV[@]}" filter=${F2/\{0\}/$c} store=$S/noise-val "baselines=[bm3d]" \
    hydra.run.dir=$OUT/eval-val-c$c
done
join
best=$(best_on_validation "validation photos, {c}: INSP-Net {v:.3f} dB" rows.insp_net.psnr "eval-val-{0}" first c2 c3)
F=$F1
[ "$best" != first ] && F=${F2/\{0\}/${best#c}}
echo "$best chosen on the validation photos: filter $F"
# the test photos, scored once with the chosen filter: the classical filters, and the twin (same views) beside them
lane timed eval-classical "${EV[@]}" filter=$F store=$S/noise-test \
  "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" hydra.run.dir=$OUT/eval-classical
lane timed eval-twin "${EV[@]}" filter=$F store=$S/noise-test "baselines=[dncnn]" twin.store=$S/noise-train \
  hydra.run.dir=$OUT/eval-twin
join
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
