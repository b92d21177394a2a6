#!/usr/bin/env bash
# The recorded unheard-speaker filter of ../speakers/ re-scored on a real recorded voice outside every speech source
# of the recording (asterisk-core-sounds-{en,es,fr,it}-wav; issue 27: "re-scored on other real ... voices that are
# not among the sources"), as a new user would: Debian alsa-utils' spoken channel names (/usr/share/sounds/alsa/,
# one real recorded voice, 48 kHz 16-bit mono; Noise.wav, which is noise, left out) converted to 16-bit mono
# 8 kHz WAVs in a folder of their own, `insp fit data.folder=DIR` with the recording's fit settings (noise sigma
# 25/255 of each clip's peak, as recorded), `insp eval` with the recorded filter beside the classical baselines,
# `insp table`. Nothing here chooses a setting.
# Usage, from the repository root:   FILTER=PATH bash experiments/fig15_audio/variants/outside-voices/run_cpu.sh
# FILTER: the recorded filter (default: the one ../speakers/cpu/chosen.txt names,
# filters/fig15-speakers/denoise-NAME.safetensors, what ../../run_speakers.sh writes; when it is not there this
# recipe runs that recipe first, into scratch: its stores and every candidate, ~2 CPU hours on 2 cores).
# RECORD=1 re-records into this folder; otherwise runs/recipes/fig15_audio/variants/outside-voices/ (scratch).
# OUTSIDE_NAME=fig15_audio/variants/OTHER records (or writes scratch) there instead: ../outside-voices-jetcnn/.
# Stores go to ${INSP_STORES:-stores}/outside-voices/, the converted WAVs to ${INSP_DATA:-data}/outside-voices/.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init ${OUTSIDE_NAME:-fig15_audio/variants/outside-voices}  # another filter's re-scoring: its own folder
S=${INSP_STORES:-stores}/outside-voices
chosen_filter() {  # the filter ../speakers/ chose on June: its chosen.txt ends with CONTEXT:STFT:HIDDEN:STEPS:PARTS
  local line c w h s p
  read -r line < experiments/fig15_audio/variants/speakers/cpu/chosen.txt || die "no chosen.txt in ../speakers/cpu/"
  IFS=: read -r c w h s p <<< "${line##* }"
  echo "filters/fig15-speakers/denoise-c${c}w${w}h${h}s${s}p${p}.safetensors"
}
DEFAULT=$(chosen_filter)
FILTER=${FILTER:-$DEFAULT}
DATA=${INSP_DATA:-data}
VOICES=$DATA/outside-voices

prepare() {  # alsa-utils fetched with insp's Debian machinery (apt-get download + dpkg -x), its 8 voice WAVs converted
  [ -f "$VOICES/DEBIAN_VERSION" ] && { echo "voices: $VOICES (kept)"; return 0; }
  "${PY[@]}" - "$DATA" "$VOICES" <<'PYEOF'
import sys
from pathlib import Path
import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly
from insp_cli.data.debian import unpacked_deb
from insp_cli.errors import InspError
from insp_cli.files import atomic_dir
root, out = Path(sys.argv[1]), Path(sys.argv[2])
try:
    with atomic_dir(out) as tmp, \
            unpacked_deb("alsa-utils", root, "download alsa-utils' /usr/share/sounds/alsa/*.wav by hand") as (tree, version):
        files = sorted(p for p in (tree / "usr/share/sounds/alsa").glob("*.wav") if p.stem != "Noise")
        for p in files:  # 48 kHz int16 mono -> 8 kHz int16 mono (polyphase, the 1/6 anti-aliasing filter)
            rate, x = wavfile.read(p)
            assert rate % 8000 == 0 and x.ndim == 1 and x.dtype == np.int16, (p, rate, x.shape, x.dtype)
            y = resample_poly(x.astype(np.float64), 1, rate // 8000)
            wavfile.write(tmp / p.name, 8000, np.clip(np.rint(y), -32768, 32767).astype(np.int16))
        (tmp / "DEBIAN_VERSION").write_text(f"alsa-utils {version}\n")
except InspError as e:
    sys.exit(f"error: {e}")
print(f"voices: {len(files)} clips of alsa-utils {version} -> {out}")
PYEOF
}
if [ -n "${INSP_RECIPE_STEPS:-}" ]; then echo "voices: not prepared (INSP_RECIPE_STEPS: insp commands only)"; else prepare; fi

if [ ! -f "$FILTER" ] && [ -n "${INSP_RECIPE_STEPS:-}" ]; then
  echo "the recorded filter is not at $FILTER: its recipe is not run (INSP_RECIPE_STEPS)"
elif [ ! -f "$FILTER" ]; then
  [ "$FILTER" = "$DEFAULT" ] || die "FILTER=$FILTER: no such file"
  echo "the recorded filter is not at $FILTER: running its recipe (experiments/fig15_audio/run_speakers.sh, ~2 CPU hours)"
  (unset RECORD; RECIPE_OUT=runs/recipes/fig15_audio bash experiments/fig15_audio/run_speakers.sh)
fi
fit_once "fit" "$OUT/fit" "$S/noise" "fit" \
  insp fit +experiment=fig15_audio/fit data.folder=$VOICES data.split=all store=$S/noise hydra.run.dir=$OUT/fit
scored_with() {  # scored_with RUN FILTER: that eval run finished, with that filter
  ran "$1" && "${PY[@]}" -c 'import json, sys; m = json.load(open(sys.argv[1] + "/metrics.json"))
sys.exit(m.get("metrics", m).get("filter") != sys.argv[2])' "$1" "$2"
}
if [ -f "$FILTER" ] && scored_with "$OUT/eval" "$FILTER"; then
  echo "eval: done earlier with $FILTER, kept"
else
  timed eval insp eval +experiment=fig15_audio/eval filter=$FILTER store=$S/noise hydra.run.dir=$OUT/eval
fi
timed table insp table table=audio "runs=[$OUT/eval]" out=$DEST
