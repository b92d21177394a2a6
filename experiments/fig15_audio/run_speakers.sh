#!/usr/bin/env bash
# Fig. 15 across speakers (issue 27 item 4): INSP-Net on speech of a speaker it never heard. source=speakers
# (insp_cli/data/audio.py): Debian asterisk-core-sounds-{en,es,fr,it}-wav, one voice per package, split by voice:
# train = Allison (en_US + es_MX, her 1,055 clips), validation = June (fr_CA), test = Carlo (it_IT, male).
# The INRs, Pi and baselines are those of run_cpu.sh (conf/experiment/fig15_audio/). The train voice's clips are
# fitted in parts (CUTS: the parts' boundaries; by default [0, 320), [320, 640), [640, 848), [848, 1055): the
# first 640 clips as recorded earlier, then the remaining 415 of her 1,055), two parts side by side; the parts'
# stores open as one. Pi's setting is chosen among CANDIDATES, each CONTEXT:STFT:HIDDEN:STEPS:PARTS
# (fusion.context in samples at step 1, train.stft.weight of the multi-resolution STFT magnitude term, 0 = squared
# error alone, fusion.hidden, train.steps, and how many train parts Pi trains on, in order: 1 = the first 320
# clips, 2 = the first 640, 4 = all 1,055), by the SNR on the validation speaker; then the test speaker is scored
# once (a rerun that chooses what chosen.txt already names keeps that test run).
# Two commands run at a time (2 cores): the candidates in two lanes, LANE1 and LANE2 (one after the other within a
# lane). A fit whose store is complete (verified), and a candidate whose filter and validation run are complete,
# are kept: a rerun resumes. A candidate whose training and validation runs are recorded but whose filter file is
# not here (a fresh clone) takes part in the choice as recorded; its filter is trained again only if it is chosen
# and its test run must be made.
# Usage, from the repository root:   bash experiments/fig15_audio/run_speakers.sh   (RECORD=1 re-records
# experiments/fig15_audio/variants/speakers/). Stores: stores/fig15-speakers/, filters: filters/fig15-speakers/.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/variants/speakers.sh"  # fit_speakers: the fits (CUTS, VAL, TEST), shared with the variants
recipe_init fig15_audio variants/speakers/cpu  # DEST: experiments/fig15_audio (or scratch); OUT: the run dirs
S=stores/fig15-speakers
F=filters/fig15-speakers
fit_speakers $S

name_of() { local c w h s p; IFS=: read -r c w h s p <<< "$1"; echo "c${c}w${w}h${h}s${s}p${p}"; }
train_pi() {  # train_pi CONTEXT:STFT:HIDDEN:STEPS:PARTS: Pi trained on the first PARTS train parts
  local c w h s p name stores k
  IFS=: read -r c w h s p <<< "$1"
  name=$(name_of "$1")
  ((p >= 1 && p <= NPARTS)) || die "candidate $1: PARTS=$p, the train voice is fitted in $NPARTS parts"
  stores=$S/noise-train-0
  for ((k = 1; k < p; k++)); do stores=$stores,$S/noise-train-$k; done
  ((p == 1)) || stores="[$stores]"
  timed "train-filter-$name" insp train-filter +experiment=fig15_audio/train_filter task=denoise fusion.context=$c \
    train.stft.weight=$w fusion.hidden=$h train.steps=$s "store=$stores" filter=$F/denoise-$name.safetensors \
    hydra.run.dir=$OUT/train-filter-$name
}
candidate() {  # candidate CONTEXT:STFT:HIDDEN:STEPS:PARTS: Pi trained on the train voice, scored on the validation one
  speaker_candidate "$(name_of "$1")" train_pi "$1"
}
# two lanes of candidates, one after the other within a lane, the lanes side by side (about equal CPU each)
LANE1=${LANE1:-"48:0:128:6000:2 48:0:128:12000:2 48:0:256:12000:2 48:0:256:24000:4"}
LANE2=${LANE2:-"48:0:256:6000:2 48:0:384:6000:2 48:0:256:12000:4"}
CANDIDATES="$LANE1 $LANE2"
candidates() { local c; for c in "$@"; do candidate "$c" || return 1; done; }
lane candidates $LANE1
lane candidates $LANE2
join
best=$(best_on_validation "validation speaker (June, fr_CA), context:stft:hidden:steps:parts {c}: SNR {v:.2f} dB" \
  rows.insp_net.snr "val-c{0}w{1}h{2}s{3}p{4}" $CANDIDATES) || exit 2
IFS=: read -r c w h s p <<< "$best"
name=$(name_of "$best")
echo "Pi chosen on the validation speaker: $name (context $c samples, stft weight $w, hidden $h, $s steps, parts $p)"
chosen="chosen on the validation speaker (context:stft:hidden:steps:parts): $c:$w:$h:$s:$p"
if ran "$OUT/eval" && [ -f "$OUT/chosen.txt" ] && [ "$(cat "$OUT/chosen.txt")" = "$chosen" ]; then
  echo "eval: the test speaker was scored earlier with this choice, kept"
else
  [ -f "$F/denoise-$name.safetensors" ] || train_pi "$best" || exit 2
  printf '%s\n' "$chosen" > "$OUT/chosen.txt"
  timed eval insp eval +experiment=fig15_audio/eval filter=$F/denoise-$name.safetensors store=$S/noise-test \
    hydra.run.dir=$OUT/eval
fi
timed table insp table table=audio "runs=[$OUT/eval]" out=$DEST/variants/speakers
