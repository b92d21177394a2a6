#!/usr/bin/env bash
# Fig. 15 across speakers (issue 27 item 4): INSP-Net on speech of a speaker it never heard. source=speakers
# (insp_cli/data/audio.py): Debian asterisk-core-sounds-{en,es,fr,it}-wav, one voice per package, split by voice:
# train = Allison (en_US + es_MX, the first TRAIN clips), validation = June (fr_CA), test = Carlo (it_IT, male).
# The INRs, Pi and baselines are those of run_cpu.sh (conf/experiment/fig15_audio/). The train clips are fitted in
# two equal parts side by side ([0, TRAIN/2) and [TRAIN/2, TRAIN), two stores that open as one), so a candidate can
# train on the first half or on all of them. Pi's setting is chosen among CANDIDATES, each
# CONTEXT:STFT:HIDDEN:STEPS:PARTS (fusion.context in samples at step 1, train.stft.weight of the multi-resolution
# STFT magnitude term, 0 = squared error alone, fusion.hidden, train.steps, 1 = the first half of the train clips
# or 2 = all), by the SNR on the validation speaker; then the test speaker is scored once.
# Two commands run at a time (2 cores): the candidates in two lanes, LANE1 and LANE2 (one after the other within a
# lane). A fit whose store is complete (verified), and a candidate whose filter and validation run are complete,
# are kept: a rerun resumes.
# Usage, from the repository root:   bash experiments/fig15_audio/run_speakers.sh   (RECORD=1 re-records
# experiments/fig15_audio/variants/speakers/). Stores: stores/fig15-speakers/, filters: filters/fig15-speakers/.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init fig15_audio variants/speakers/cpu  # DEST: experiments/fig15_audio (or scratch); OUT: the run dirs
S=stores/fig15-speakers
F=filters/fig15-speakers
TRAIN=${TRAIN:-640}
VAL=${VAL:-16}
TEST=${TEST:-16}
HALF=$((TRAIN / 2))

fit() {  # fit NAME SPLIT START LIMIT
  fit_once "fit $1" "$OUT/fit-$1" "$S/noise-$1" "fit-$1" \
    insp fit +experiment=fig15_audio/fit data.source=speakers data.split=$2 data.start=$3 \
    data.limit=$4 store=$S/noise-$1 hydra.run.dir=$OUT/fit-$1
}
if [ -n "${INSP_RECIPE_STEPS:-}" ]; then  # a quick check: one after the other, in a fixed order
  fit train-0 train 0 $HALF && fit train-1 train $HALF $((TRAIN - HALF)) && fit val val 0 $VAL \
    && fit test test 0 $TEST
else
  lane fit train-0 train 0 $HALF
  lane fit train-1 train $HALF $((TRAIN - HALF))
  join
  lane fit val val 0 $VAL
  lane fit test test 0 $TEST
  join
fi

done_run() {  # done_run RUN_DIR: its metrics.json says complete
  [ -f "$1/metrics.json" ] && "${PY[@]}" -c \
    'import json, sys; sys.exit(json.load(open(sys.argv[1])).get("status") != "complete")' "$1/metrics.json"
}
candidate() {  # candidate CONTEXT:STFT:HIDDEN:STEPS:PARTS: Pi trained on the train voice, scored on the validation one
  local c w h s p name stores
  IFS=: read -r c w h s p <<< "$1"
  name=c${c}w${w}h${h}s${s}p${p}
  stores=$S/noise-train-0
  [ "$p" = 1 ] || stores="[$S/noise-train-0,$S/noise-train-1]"
  if done_run "$OUT/train-filter-$name" && done_run "$OUT/val-$name" && [ -f "$F/denoise-$name.safetensors" ]; then
    echo "candidate $name: done earlier, kept"
    return 0
  fi
  timed "train-filter-$name" insp train-filter +experiment=fig15_audio/train_filter task=denoise fusion.context=$c \
    train.stft.weight=$w fusion.hidden=$h train.steps=$s "store=$stores" filter=$F/denoise-$name.safetensors \
    hydra.run.dir=$OUT/train-filter-$name || return 1
  timed "val-$name" insp eval +experiment=fig15_audio/eval filter=$F/denoise-$name.safetensors store=$S/noise-val \
    hydra.run.dir=$OUT/val-$name
}
# two lanes of candidates, one after the other within a lane, the lanes side by side (about equal CPU each)
LANE1=${LANE1:-"48:0:128:6000:2 48:0:128:12000:2 48:0:256:12000:2"}
LANE2=${LANE2:-"48:0:256:6000:2 48:0:384:6000:2"}
CANDIDATES="$LANE1 $LANE2"
candidates() { local c; for c in "$@"; do candidate "$c" || return 1; done; }
lane candidates $LANE1
lane candidates $LANE2
join
best=$(best_on_validation "validation speaker (June, fr_CA), context:stft:hidden:steps:parts {c}: SNR {v:.2f} dB" \
  rows.insp_net.snr "val-c{0}w{1}h{2}s{3}p{4}" $CANDIDATES) || exit 2
IFS=: read -r c w h s p <<< "$best"
best=c${c}w${w}h${h}s${s}p${p}
echo "Pi chosen on the validation speaker: $best (context $c samples, stft weight $w, hidden $h, $s steps, parts $p)"
printf '%s\n' "chosen on the validation speaker (context:stft:hidden:steps:parts): $c:$w:$h:$s:$p" > "$OUT/chosen.txt"
timed eval insp eval +experiment=fig15_audio/eval filter=$F/denoise-$best.safetensors store=$S/noise-test \
  hydra.run.dir=$OUT/eval
timed table insp table table=audio "runs=[$OUT/eval]" out=$DEST/variants/speakers
