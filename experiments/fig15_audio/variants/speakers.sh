# Sourced (after ../../lib.sh and recipe_init) by ../run_speakers.sh and the speakers-* variants' run_cpu.sh: their
# fit step. fit_speakers STORES: the noisy INRs of the speaker-disjoint split (data.source=speakers), as recorded
# (conf/experiment/fig15_audio/fit.yaml): the train voice (Allison, 1,055 clips) in parts STORES/noise-train-K (clips
# [CUTS[K], CUTS[K+1]); CUTS default 0 320 640 848 1055), the even parts in one lane and the odd ones in another,
# then the validation voice (June, VAL clips, default 16) in STORES/noise-val beside the test voice (Carlo, TEST
# clips, default 16) in STORES/noise-test; run dirs $OUT/fit-{train-K,val,test}; each fitted once (fit_once).
# Sets NPARTS (how many train parts). Under INSP_RECIPE_STEPS the fits run one after the other in a fixed order.
# Also speaker_candidate (below): one Pi candidate trained and scored on the validation voice.
CUTS=(${CUTS:-0 320 640 848 1055})
VAL=${VAL:-16}
TEST=${TEST:-16}
NPARTS=$((${#CUTS[@]} - 1))

_fit_speaker() {  # _fit_speaker STORES NAME SPLIT START LIMIT
  fit_once "fit $2" "$OUT/fit-$2" "$1/noise-$2" "fit-$2" \
    insp fit +experiment=fig15_audio/fit data.source=speakers data.split=$3 data.start=$4 \
    data.limit=$5 store=$1/noise-$2 hydra.run.dir=$OUT/fit-$2
}
_fit_parts() {  # _fit_parts STORES K...: the train parts K, one after the other
  local s=$1 k
  shift
  for k in "$@"; do
    _fit_speaker "$s" train-$k train ${CUTS[k]} $((CUTS[k + 1] - CUTS[k])) || return 1
  done
}
# speaker_candidate NAME TRAIN...: a Pi candidate, filter $F/denoise-NAME.safetensors, trained by the command TRAIN...
# (which must write that file and $OUT/train-filter-NAME), then scored on the validation voice ($S/noise-val ->
# $OUT/val-NAME). Kept when both runs finished; with its filter file absent (a fresh clone) it takes part in the
# choice as recorded, and the recipe trains it again only if it needs the filter.
speaker_candidate() {
  local name=$1
  shift
  if ran "$OUT/train-filter-$name" && ran "$OUT/val-$name"; then
    if [ -f "$F/denoise-$name.safetensors" ]; then echo "candidate $name: done earlier, kept"
    else echo "candidate $name: its runs are recorded (its filter file is not here: trained again only if chosen)"; fi
    return 0
  fi
  "$@" || return 1
  timed "val-$name" insp eval +experiment=fig15_audio/eval filter=$F/denoise-$name.safetensors store=$S/noise-val \
    hydra.run.dir=$OUT/val-$name
}
fit_speakers() {  # fit_speakers STORES
  local even=() odd=() k
  for ((k = 0; k < NPARTS; k++)); do if ((k % 2)); then odd+=($k); else even+=($k); fi; done
  if [ -n "${INSP_RECIPE_STEPS:-}" ]; then  # a quick check: one after the other, in a fixed order
    _fit_parts "$1" $(seq 0 $((NPARTS - 1))) && _fit_speaker "$1" val val 0 $VAL && _fit_speaker "$1" test test 0 $TEST
    return
  fi
  lane _fit_parts "$1" "${even[@]}"
  lane _fit_parts "$1" "${odd[@]}"
  join
  lane _fit_speaker "$1" val val 0 $VAL
  lane _fit_speaker "$1" test test 0 $TEST
  join
}
