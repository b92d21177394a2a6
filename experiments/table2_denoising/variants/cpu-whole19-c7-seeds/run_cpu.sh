#!/usr/bin/env bash
# Variant (issue 27) of Table 2's denoising at the CPU scale: ../cpu-whole19-c7-ens48's protocol (19 whole training
# photos, 5 validation and 26 test photos at 128x128, sigma 25/255, SIREN 3x128 for 150 steps, Pi = MLP 4x256 on the
# K = 2 jets at the 7x7 pixels around x, 3,600 AdamW steps, Pi's 48-view test-time self-ensemble) with one more
# lever: a seed ensemble, Pi trained three times with seeds 0, 1, 2 (seed 0 is the recorded c7 Pi's command) and
# `insp eval filter=[A,B,...]` averaging their outputs (each one's self-ensemble first). The candidates are each
# Pi alone (s0, s1, s2) and the ensembles of two (s01) and three (s012), scored on the validation photos beside BM3D
# with VIEWS views (default 48); the best is scored once on test with the classical filters, then the DnCNN pixel twin
# at all its Pi's parameters together (an ensemble of N Pi: N times one Pi's count) and one Pi's steps (README.md).
# Usage, from the repository root:
#   bash experiments/table2_denoising/variants/cpu-whole19-c7-seeds/run_cpu.sh   # into runs/recipes/<same path>/cpu/
#   RECORD=1 bash .../run_cpu.sh                    # re-records this folder's cpu/ and table (scratch by default)
# INR stores go to stores/table2-photos-whole19/ (shared with ../cpu-whole19-c7-ens48/run_cpu.sh: fitted once),
# the filters to filters/ (git-ignored data); one torch thread per command; times.txt gets wall and CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../whole19.sh"
recipe_init table2_denoising/variants/cpu-whole19-c7-seeds
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/table2-photos-whole19
F=filters/table2-photos-whole19/denoise-c7-n3600-s{0}.safetensors  # {0}: Pi's training seed
VIEWS=${VIEWS:-48}  # the self-ensemble's views on validation and test
CANDIDATES=(s0 s1 s2 s01 s012)  # s<seeds>: the mean of those seeds' Pi

filters() {  # filters s<seeds>: insp eval's filter=[...] of those seeds' Pi
  local seeds=${1#s} i paths=()
  for ((i = 0; i < ${#seeds}; i++)); do paths+=("${F/\{0\}/${seeds:i:1}}"); done
  (IFS=,; echo "filter=[${paths[*]}]")
}

fit_whole19 $S  # the three splits' noisy INRs (../whole19.sh)
for s in 0 1 2; do
  timed train-filter-s$s insp train-filter +experiment=table2_denoising/train_filter task=denoise \
    store=$S/noise-train filter=${F/\{0\}/$s} train.steps=3600 fusion.context=3 seed=$s \
    hydra.run.dir=$OUT/train-filter-s$s
done
for c in "${CANDIDATES[@]}"; do  # the validation photos, BM3D beside Pi (same decoded inputs)
  timed eval-val-$c insp eval +experiment=table2_denoising/eval "$(filters $c)" check_2x=false \
    store=$S/noise-val "baselines=[bm3d]" self_ensemble=$VIEWS hydra.run.dir=$OUT/eval-val-$c
done
c=$(best_on_validation "validation photos, $VIEWS views, {c}: INSP-Net {v:.3f} dB" rows.insp_net.psnr "eval-val-{0}" \
  "${CANDIDATES[@]}")
echo "$c ($(filters $c)) chosen on the validation photos"
EVAL=(insp eval +experiment=table2_denoising/eval "$(filters $c)" check_2x=false store=$S/noise-test self_ensemble=$VIEWS)
# the test photos, scored once with the chosen Pi or ensemble: the classical filters (and the table), then the twin
timed eval-classical "${EVAL[@]}" "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" \
  hydra.run.dir=$OUT/eval-classical
timed table insp table table=table2 "runs=[$OUT/eval-classical]" out=$DEST
timed eval-twin "${EVAL[@]}" "baselines=[dncnn]" twin.store=$S/noise-train hydra.run.dir=$OUT/eval-twin
timed table-twin insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
