#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-n3600-ens48's protocol (19 whole
# training photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps, Pi = MLP
# 4x256 on the K = 2 jets, 3,600 AdamW steps, Pi's test-time self-ensemble) with one more lever chosen on the
# validation photos: Pi's context, the jets at the 5x5 (fusion.context=2) or 7x7 (fusion.context=3) pixels around
# x, crossed with the self-ensemble (1, 8, 48 views); the candidate with the best validation PSNR is scored once on
# test, the DnCNN pixel twin beside it at that Pi's parameter count and steps with the same views (README.md).
# Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-c7-ens48/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/ (shared with ../cpu-whole19-n3600-ens48/run_cpu.sh: fitted once),
# the filters to filters/ (git-ignored data); one torch thread per command; times.txt gets wall and CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-c7-ens48
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F=filters/table2-photos-whole19/denoise-c{0}-n3600.safetensors  # {0}: Pi's context (2: 5x5 pixels, 3: 7x7)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
for c in 2 3; do
  timed train-filter-c$c insp train-filter +experiment=table2_denoising/train_filter task=denoise \
    store=$S/noise-train filter=${F/\{0\}/$c} train.steps=3600 fusion.context=$c hydra.run.dir=$OUT/train-filter-c$c
  for e in 1 8 48; do  # the validation photos, BM3D beside Pi (same decoded inputs)
    timed eval-val-c$c-e$e insp eval +experiment=table2_denoising/eval filter=${F/\{0\}/$c} check_2x=false \
      store=$S/noise-val "baselines=[bm3d]" self_ensemble=$e hydra.run.dir=$OUT/eval-val-c$c-e$e
  done
done
best=$(best_on_validation "validation photos, context:self_ensemble={c}: INSP-Net {v:.2f} dB" rows.insp_net.psnr "eval-val-c{0}-e{1}" \
  2:1 2:8 2:48 3:1 3:8 3:48)
c=${best%%:*} e=${best##*:}
echo "fusion.context=$c self_ensemble=$e chosen on the validation photos"
EVAL=(insp eval +experiment=table2_denoising/eval filter=${F/\{0\}/$c} check_2x=false store=$S/noise-test self_ensemble=$e)
# the test photos, scored once with the chosen Pi and ensemble: the classical filters, then the twin (same views)
timed eval-classical "${EVAL[@]}" "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" \
  hydra.run.dir=$OUT/eval-classical
timed eval-twin "${EVAL[@]}" "baselines=[dncnn]" twin.store=$S/noise-train hydra.run.dir=$OUT/eval-twin
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
