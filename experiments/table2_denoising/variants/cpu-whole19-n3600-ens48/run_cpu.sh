#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-n3600's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps, Pi = MLP 4x256 on
# the K = 2 jets at the 5x5 pixels around x, 3,600 AdamW steps) with the levers chosen on the validation photos
# (README.md): Pi's test-time self-ensemble (insp eval self_ensemble=1|8|48, chosen here on validation by
# best_on_validation), given to the DnCNN pixel twin too; the photo fit's Adam schedule (fit.warmup=3 fit.beta1=0.8
# fit.beta2=0.9) was measured on validation and not kept (README.md). Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-n3600-ens48/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/, the filter to filters/ (git-ignored data); one torch thread per
# command (OMP_NUM_THREADS=1); times.txt gets the wall and CPU seconds of every command.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-n3600-ens48
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F=filters/table2-photos-whole19/denoise-c5-n3600.safetensors
EVAL=(insp eval +experiment=table2_denoising/eval filter=$F check_2x=false)

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
timed train-filter insp train-filter +experiment=table2_denoising/train_filter task=denoise store=$S/noise-train \
  filter=$F train.steps=3600 hydra.run.dir=$OUT/train-filter
for e in 1 8 48; do  # the self-ensemble on the validation photos, BM3D beside it (same decoded inputs)
  timed eval-val-e$e "${EVAL[@]}" store=$S/noise-val "baselines=[bm3d]" self_ensemble=$e hydra.run.dir=$OUT/eval-val-e$e
done
e=$(best_on_validation "validation photos, self_ensemble={c}: INSP-Net {v:.2f} dB" rows.insp_net.psnr "eval-val-e{0}" 1 8 48)
echo "self_ensemble=$e chosen on the validation photos"
# the test photos, scored once with the chosen ensemble: the classical filters, then the twin (same ensemble)
timed eval-classical "${EVAL[@]}" store=$S/noise-test self_ensemble=$e \
  "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" \
  hydra.run.dir=$OUT/eval-classical
timed eval-twin "${EVAL[@]}" store=$S/noise-test self_ensemble=$e "baselines=[dncnn]" twin.store=$S/noise-train \
  hydra.run.dir=$OUT/eval-twin
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
