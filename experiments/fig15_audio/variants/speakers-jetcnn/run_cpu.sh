#!/usr/bin/env bash
# Variant (issue 27 item 4) of Fig. 15 across speakers: ../speakers/'s protocol (train voice Allison, 1,055 clips;
# validation voice June; test voice Carlo, scored once; the same noisy INRs, sigma 25/255 of each clip's peak, and
# classical baselines) with a convolutional Pi over each clip's jet field (fusion.kind=conv, insp_cli/filters/
# jet_cnn.py) instead of the MLP on the jets at +-48 samples: 5 hidden 3-tap convolutions of 128 channels and one to
# the output, dilated 1, 2, 4, ..., 32 (a reach of 63 samples each side), on the jets up to order 2; 198,785
# parameters against the recorded MLP's 206,593, its 24,000 steps of 4,096 samples (here 4 runs of 1,024) and its
# AdamW schedule, 1e-3 -> 1e-5 (checked on training clips only: lr_check.txt). The architecture was fixed before any
# clip was scored. Chosen on the validation voice (SNR) among CANDIDATES: with or without train.augment (each training
# run reversed in time and / or negated: symmetries of speech in white noise that the MLP recipe never used), and,
# added after those two were scored (README), k97h136l4-true: a first convolution of 97 taps (the MLP's first layer,
# applied at every sample) of 136 channels, then 3 hidden dilated ones (2, 4, 8) and the output one (16): a reach of
# 78, 206,993 parameters. The chosen Pi is re-scored on the voice outside every source by
# ../outside-voices-jetcnn/run_cpu.sh.
# Usage, from the repository root:
#   bash experiments/fig15_audio/variants/speakers-jetcnn/run_cpu.sh   # into runs/recipes/<same path>/
#   RECORD=1 bash .../run_cpu.sh                                       # re-records this folder
# Stores: stores/fig15-speakers/ (shared with ../../run_speakers.sh: fitted once), filters: filters/fig15-speakers/.
# INSP_THREADS torch threads per command (default 1); cpu/times.txt gets wall and CPU seconds.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
source "$(dirname "$0")/../speakers.sh"
recipe_init fig15_audio/variants/speakers-jetcnn
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
S=stores/fig15-speakers
F=filters/fig15-speakers
LR=${LR:-1e-3}
STEPS=${STEPS:-24000}
fit_speakers $S

TRAIN_STORES="[$S/noise-train-0$(for ((k = 1; k < NPARTS; k++)); do printf ',%s' "$S/noise-train-$k"; done)]"
settings() {  # settings NAME: candidate NAME's Pi: true / false (train.augment; 5 hidden layers of 128, 3 taps first) or
  # kKERNELhHIDDENlLAYERS-AUG (the first convolution of KERNEL taps: a bank of learned KERNEL-sample filters)
  if [[ $1 =~ ^k([0-9]+)h([0-9]+)l([0-9]+)-(true|false)$ ]]; then
    echo "fusion.kernel=${BASH_REMATCH[1]} fusion.hidden=${BASH_REMATCH[2]} fusion.layers=${BASH_REMATCH[3]}" \
      "train.augment=${BASH_REMATCH[4]}"
  else
    echo "fusion.layers=5 fusion.hidden=128 train.augment=$1"
  fi
}
train_pi() {  # train_pi NAME: the conv Pi trained on every train part
  timed "train-filter-jetcnn-aug-$1" insp train-filter +experiment=fig15_audio/train_filter task=denoise \
    fusion.kind=conv fusion.context=0 $(settings "$1") fusion.dilation=2 \
    train.steps=$STEPS train.patch=1024 train.lr=$LR "store=$TRAIN_STORES" \
    filter=$F/denoise-jetcnn-aug-$1.safetensors hydra.run.dir=$OUT/train-filter-jetcnn-aug-$1
}
candidate() {  # candidate NAME: the conv Pi trained on every train part, scored on the validation voice
  speaker_candidate "jetcnn-aug-$1" train_pi "$1"
}
# the two lanes (one after the other within a lane); CANDIDATES: all of them, in the order of a tie
LANE1=${LANE1:-"true k97h136l4-true"}
LANE2=${LANE2:-"false"}
CANDIDATES="$LANE1 $LANE2"
candidates() { local c; for c in "$@"; do candidate "$c" || return 1; done; }
lane candidates $LANE1
lane candidates $LANE2
join
best=$(best_on_validation "validation speaker (June, fr_CA), candidate {c}: SNR {v:.2f} dB" rows.insp_net.snr \
  "val-jetcnn-aug-{0}" $CANDIDATES) || exit 2
chosen="chosen on the validation speaker (train.augment): $best"
FILTER=$F/denoise-jetcnn-aug-$best.safetensors
scored() {  # scored RUN: that eval finished with the chosen filter (kept: a fresh clone's recorded run, its filter absent)
  ran "$1" && [ -f "$OUT/chosen.txt" ] && [ "$(cat "$OUT/chosen.txt")" = "$chosen" ] && grep -q "\"$FILTER\"" "$1/metrics.json"
}
need_filter() { [ -f "$FILTER" ] || train_pi "$best"; }
if scored "$OUT/eval"; then
  echo "eval: the test speaker was scored earlier with this choice, kept"
else
  need_filter || exit 2
  printf '%s\n' "$chosen" > "$OUT/chosen.txt"
  timed eval insp eval +experiment=fig15_audio/eval filter=$FILTER store=$S/noise-test hydra.run.dir=$OUT/eval
fi
# the chosen Pi's test-time self-ensemble (4 views: the clip reversed in time and / or negated; insp eval
# self_ensemble=4), reported beside its one view (the table's row: the MLP's protocol) on both voices; chooses nothing
for split in val test; do
  if scored "$OUT/$split-ens4"; then echo "$split-ens4: scored earlier with this filter, kept"; continue; fi
  need_filter || exit 2
  timed $split-ens4 insp eval +experiment=fig15_audio/eval filter=$FILTER store=$S/noise-$split self_ensemble=4 \
    hydra.run.dir=$OUT/$split-ens4
done
timed table insp table table=audio "runs=[$OUT/eval]" out=$DEST
