#!/usr/bin/env bash
# Table 2's denoising recipe with the INR backbone swapped (README.md): SIREN, FFN (64 Fourier features, sigma 3)
# and a plain ReLU MLP at one parameter budget, at 64x64 (smaller than table2_denoising's 128x128). Per backbone: fit the
# noisy train (38 INRs) and test (26 held-out photos) splits, train the same Pi on train, score it on test.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/table2_denoising/variants/cpu-64px-backbones/run.sh
# (RECORD=1 ... re-records the committed results). Settings: conf/experiment/table2_denoising/cpu_64px_backbones/. Run dirs under
# runs/recipes/table2_denoising/variants/cpu-64px-backbones/cpu/ (scratch), or with RECORD=1 beside this script;
# stores under stores/table2-backbones-64/, filters under filters/table2-backbones-64/.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init table2_denoising/variants/cpu-64px-backbones
S=stores/table2-backbones-64
F=filters/table2-backbones-64
declare -A MODEL=([siren]="model=siren" [relu]="model=relu" [ffn]="model=ffn model.features=64 model.sigma=3")
for name in siren ffn relu; do
  for split in train test; do
    d="$OUT/$name/fit-$split"
    # shellcheck disable=SC2086  # MODEL entries are several overrides
    fit_once "fit $name $split" "$d" "$S/$name-$split" "fit-$name-$split" \
      insp fit +experiment=table2_denoising/cpu_64px_backbones/fit ${MODEL[$name]} data.split=$split \
      degradation=noise store="$S/$name-$split" hydra.run.dir="$d"
  done
  timed "train-filter-$name" insp train-filter +experiment=table2_denoising/cpu_64px_backbones/train_filter task=denoise \
    store="$S/$name-train" filter="$F/$name.safetensors" overwrite=true hydra.run.dir="$OUT/$name/train-filter"
  timed "eval-$name" insp eval +experiment=table2_denoising/cpu_64px_backbones/eval filter="$F/$name.safetensors" store="$S/$name-test" \
    hydra.run.dir="$OUT/$name/eval"
done
