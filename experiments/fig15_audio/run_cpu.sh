#!/usr/bin/env bash
# Fig. 15 (audio denoising) at the declared CPU scale: 354 training clips (the whole train split) and 16 test
# speech clips of 1.5 s at 8 kHz (data=audio, Debian asterisk-core-sounds-en-wav, fetched once into
# $INSP_DATA/debian/ with apt-get download).
# Usage, from the repository root:   bash experiments/fig15_audio/run_cpu.sh
# Run directories go under experiments/fig15_audio/cpu/, INR stores to stores/fig15-cpu/, the filter to
# filters/fig15-cpu/ (git-ignored data); times.txt gets the wall and CPU seconds of every command.
# The settings are Hydra configs, conf/experiment/fig15_cpu/ (fit, train_filter, eval); this script only runs them.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/fig15_audio/cpu
S=stores/fig15-cpu
F=filters/fig15-cpu
TRAIN=${TRAIN:-354}
TEST=${TEST:-16}

timed() {  # timed NAME insp ARGS...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

mkdir -p "$OUT"
for split in train test; do
  limit=$([ $split = train ] && echo "$TRAIN" || echo "$TEST")
  if [ -f "$OUT/fit-$split/metrics.json" ] && ls $S/noise-$split/shard-* >/dev/null 2>&1; then
    echo "fit $split: done earlier ($S/noise-$split), kept"
    continue
  fi
  timed "fit-$split" insp fit +experiment=fig15_cpu/fit data.split=$split data.limit=$limit \
    store=$S/noise-$split hydra.run.dir=$OUT/fit-$split
done
timed train-filter insp train-filter +experiment=fig15_cpu/train_filter task=denoise store=$S/noise-train \
  filter=$F/denoise.safetensors hydra.run.dir=$OUT/train-filter
timed eval insp eval +experiment=fig15_cpu/eval filter=$F/denoise.safetensors store=$S/noise-test \
  hydra.run.dir=$OUT/eval
insp table table=audio runs=[$OUT/eval] out=experiments/fig15_audio
