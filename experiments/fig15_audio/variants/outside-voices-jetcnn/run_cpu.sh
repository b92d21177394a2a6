#!/usr/bin/env bash
# The convolutional Pi chosen in ../speakers-jetcnn/ re-scored on the real recorded voice outside every speech source
# (issue 27: "re-scored on other real ... voices that are not among the sources"): ../outside-voices/'s recipe (Debian
# alsa-utils' spoken channel names at 8 kHz, the same fit settings and the same fitted INRs in
# stores/outside-voices/) with that filter, recorded here. Nothing here chooses a setting.
# Usage, from the repository root:   bash experiments/fig15_audio/variants/outside-voices-jetcnn/run_cpu.sh
# FILTER: default the one ../speakers-jetcnn/cpu/chosen.txt names (filters/fig15-speakers/denoise-jetcnn-aug-A.
# safetensors); when it is not there, ../speakers-jetcnn/run_cpu.sh runs first, into scratch (~2.5 CPU hours).
# RECORD=1 re-records this folder; otherwise runs/recipes/fig15_audio/variants/outside-voices-jetcnn/ (scratch). Then
# the same filter's 4-view self-ensemble, cpu/eval-ens4 (reported beside the table's one view).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
read -r line < experiments/fig15_audio/variants/speakers-jetcnn/cpu/chosen.txt \
  || { echo "error: no chosen.txt in experiments/fig15_audio/variants/speakers-jetcnn/cpu/" >&2; exit 2; }
DEFAULT=filters/fig15-speakers/denoise-jetcnn-aug-${line##* }.safetensors
export FILTER=${FILTER:-$DEFAULT}
if [ ! -f "$FILTER" ] && [ -z "${INSP_RECIPE_STEPS:-}" ]; then
  [ "$FILTER" = "$DEFAULT" ] || { echo "error: FILTER=$FILTER: no such file" >&2; exit 2; }
  echo "the chosen filter is not at $FILTER: running its recipe (../speakers-jetcnn/run_cpu.sh, into scratch)"
  (unset RECORD; RECIPE_OUT=runs/recipes/fig15_audio/variants/speakers-jetcnn \
    bash experiments/fig15_audio/variants/speakers-jetcnn/run_cpu.sh)
fi
OUTSIDE_NAME=fig15_audio/variants/outside-voices-jetcnn bash experiments/fig15_audio/variants/outside-voices/run_cpu.sh
[ -z "${INSP_RECIPE_STEPS:-}" ] || exit 0
# beside the table's one view: the filter's 4-view self-ensemble (insp eval self_ensemble=4), as ../speakers-jetcnn/
source experiments/lib.sh
recipe_init fig15_audio/variants/outside-voices-jetcnn
if ran "$OUT/eval-ens4" && grep -q "\"$FILTER\"" "$OUT/eval-ens4/metrics.json"; then
  echo "eval-ens4: done earlier with $FILTER, kept"
else
  timed eval-ens4 insp eval +experiment=fig15_audio/eval filter=$FILTER store=${INSP_STORES:-stores}/outside-voices/noise \
    self_ensemble=4 hydra.run.dir=$OUT/eval-ens4
fi
