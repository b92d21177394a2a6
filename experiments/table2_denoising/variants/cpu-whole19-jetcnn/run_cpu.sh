#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-c7-ens48's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps; Pi trained with AdamW
# 5e-4 -> 1e-5 cosine (the twin's 1e-3 left this Pi stuck: lr_check.txt) on 4,096 training pixels per step as 4
# windows of 32x32, flips / quarter turns / colour permutations, 48-view self-ensemble) with a convolutional Pi
# over the jet field (fusion.kind=conv, insp_cli/filters/jet_cnn.py): 4 hidden 3x3 convolutions of 178 channels and one to the 3 outputs on the jets up to order 2 (an 11x11 reach), 889,825
# parameters and 7,200 steps: the budget of ../cpu-whole19-cascade's two stages (886,022 parameters, 3,600 + 3,600
# steps), at which the DnCNN pixel twin was recorded there. Its architecture is that twin's (depth 5), fixed before any
# photo was scored: nothing is chosen on the validation photos, which are scored for the record; the test photos once.
# The twin at this budget is the recorded one (dncnn_for_budget gives it the same width, 180): not retrained here.
# Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-jetcnn/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/ (shared with the other cpu-whole19-* recipes: fitted once), the
# filter to filters/ (git-ignored data); INSP_THREADS torch threads per command (default 1); times.txt gets wall and
# CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-jetcnn
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F=filters/table2-photos-whole19/denoise-jetcnn-5x178.safetensors
EV=(insp eval +experiment=table2_denoising/eval check_2x=false self_ensemble=48)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
timed train-filter insp train-filter +experiment=table2_denoising/train_filter task=denoise store=$S/noise-train \
  filter=$F fusion.kind=conv fusion.context=0 fusion.layers=4 fusion.hidden=178 train.steps=7200 train.patch=32 \
  train.lr=5e-4 hydra.run.dir=$OUT/train-filter  # lr: README (the twin's 1e-3 left this Pi's training stuck)
lane timed eval-val "${EV[@]}" filter=$F store=$S/noise-val "baselines=[bm3d]" hydra.run.dir=$OUT/eval-val
lane timed eval-test "${EV[@]}" filter=$F store=$S/noise-test \
  "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" hydra.run.dir=$OUT/eval-test
join
timed table insp table table=table2 "runs=[$OUT/eval-test]" out=$DEST
