#!/usr/bin/env bash
# Fig. 15 across speakers (issue 27 item 4): INSP-Net on speech of a speaker it never heard. source=speakers
# (insp_cli/data/audio.py): Debian asterisk-core-sounds-{en,es,fr,it}-wav, one voice per package, split by voice:
# train = Allison (en_US + es_MX, the first TRAIN clips), validation = June (fr_CA), test = Carlo (it_IT, male).
# The INRs, Pi and baselines are those of run_cpu.sh (conf/experiment/fig15_audio/); Pi's setting is chosen among
# CANDIDATES, each CONTEXT:STFT:HIDDEN (fusion.context in samples at step 1, train.stft.weight of the
# multi-resolution STFT magnitude term, 0 = squared error alone, fusion.hidden), by the SNR on the validation
# speaker; then the test speaker is scored once.
# Usage, from the repository root:   bash experiments/fig15_audio/run_speakers.sh   (RECORD=1 re-records
# experiments/fig15_audio/variants/speakers/). Stores: stores/fig15-speakers/, filters: filters/fig15-speakers/.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init fig15_audio variants/speakers/cpu  # DEST: experiments/fig15_audio (or scratch); OUT: the run dirs
S=stores/fig15-speakers
F=filters/fig15-speakers
TRAIN=${TRAIN:-160}
VAL=${VAL:-16}
TEST=${TEST:-16}
declare -A LIMIT=([train]=$TRAIN [val]=$VAL [test]=$TEST)

fit() {  # fit SPLIT (the three splits' fits run side by side)
  if fit_done "$OUT/fit-$1" "$S/noise-$1"; then
    echo "fit $1: done earlier ($S/noise-$1 verified), kept"
    return 0
  fi
  timed "fit-$1" insp fit +experiment=fig15_audio/fit data.source=speakers data.split=$1 data.limit=${LIMIT[$1]} \
    store=$S/noise-$1 hydra.run.dir=$OUT/fit-$1
}
if [ -n "${INSP_RECIPE_STEPS:-}" ]; then  # a quick check: one after the other, in a fixed order
  fit train && fit val && fit test
else
  lane fit train
  lane fit val
  lane fit test
  join
fi
candidate() {  # candidate CONTEXT:STFT:HIDDEN: Pi trained on the train speaker, scored on the validation speaker
  local c w h name
  IFS=: read -r c w h <<< "$1"
  name=c${c}w${w}h${h}
  timed "train-filter-$name" insp train-filter +experiment=fig15_audio/train_filter task=denoise fusion.context=$c \
    train.stft.weight=$w fusion.hidden=$h store=$S/noise-train filter=$F/denoise-$name.safetensors \
    hydra.run.dir=$OUT/train-filter-$name || return 1
  timed "val-$name" insp eval +experiment=fig15_audio/eval filter=$F/denoise-$name.safetensors store=$S/noise-val \
    hydra.run.dir=$OUT/val-$name
}
CANDIDATES=${CANDIDATES:-"48:0:128 48:0.002:128 48:0.01:128 48:0:256"}
for c in $CANDIDATES; do lane candidate "$c"; done
join
best=$(best_on_validation "validation speaker (June, fr_CA), context:stft:hidden {c}: SNR {v:.2f} dB" snr \
  "val-c{0}w{1}h{2}" $CANDIDATES) || exit 2
IFS=: read -r c w h <<< "$best"
best=c${c}w${w}h${h}
echo "Pi chosen on the validation speaker: $best (context $c samples, stft weight $w, hidden $h)"
printf '%s\n' "chosen on the validation speaker (context:stft:hidden): $c:$w:$h" > "$OUT/chosen.txt"
timed eval insp eval +experiment=fig15_audio/eval filter=$F/denoise-$best.safetensors store=$S/noise-test \
  hydra.run.dir=$OUT/eval
timed table insp table table=audio "runs=[$OUT/eval]" out=$DEST/variants/speakers
