#!/usr/bin/env bash
# fig8_geometry's recorded filters re-scored on 6 other real shapes outside its 22 (issue 27: "re-scored on other
# real ... shapes that are not among the sources"), as a new user would: the meshes go into a folder of their own,
# `insp fit data.folder=DIR` fits them with the recording's fit settings, `insp eval` applies each recorded filter
# at 128^3 beside the classical baselines, `insp table` builds the table. Nothing here chooses a setting: the
# filters are the ones ../../run_cpu.sh trained on its 18 train shapes and chose on its validation shapes.
# Shapes: Debian libcgal-demo 5.5.1-2 data/meshes/ (the parent recipe's package), the watertight one-body models
# of >= 1,000 triangles that are not among the 22 the recording uses nor a near-copy of one (README.md here):
# blobby, cactus, handle, helmet, pinion, spool.
# Usage, from the repository root:   FILTERS=DIR bash experiments/fig8_geometry/variants/outside-shapes/run_cpu.sh
# FILTERS: the folder of the recorded filter files (default filters/fig8-cpu/, what ../../run_cpu.sh writes; when
# its -18 files are not there this recipe runs the parent recipe first: ~47 CPU min on 2 cores).
# RECORD=1 re-records into this folder; otherwise runs/recipes/fig8_geometry/variants/outside-shapes/ (scratch).
# Stores go to ${INSP_STORES:-stores}/outside-shapes/, the mesh folder to ${INSP_DATA:-data}/outside-shapes/.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init fig8_geometry/variants/outside-shapes
S=${INSP_STORES:-stores}/outside-shapes
F=${FILTERS:-filters/fig8-cpu}
DATA=${INSP_DATA:-data}
MESHES=$DATA/outside-shapes
NAMES="blobby cactus handle helmet pinion spool"
# the recorded filters (../../README.md): the context Pi and the pointwise Pi (the paper's) of each task
FILES="smooth-c2s2w128n4500-18 smooth-pointwise-18 smooth-s0.02-c2s2w128n4500-18 smooth-s0.02-pointwise-18
       denoise_shape-c2s2w128n1500-18 denoise_shape-pointwise-18"

prepare() {  # the 6 meshes, copied out of libcgal-demo's data/meshes/ (fetched by insp's own machinery if absent)
  [ -d "$MESHES" ] && [ "$(ls "$MESHES" | wc -l)" = 6 ] && { echo "meshes: $MESHES (kept)"; return 0; }
  "${PY[@]}" - "$DATA" "$MESHES" $NAMES <<'PYEOF'
import shutil, sys
from pathlib import Path
from insp_cli.data.meshes import cgal_folder
from insp_cli.errors import InspError
from insp_cli.files import atomic_dir
try:
    src = cgal_folder(Path(sys.argv[1]))
except InspError as e:
    sys.exit(f"error: {e}")
out = Path(sys.argv[2])
with atomic_dir(out) as tmp:
    for name in sys.argv[3:]:
        shutil.copy2(src / f"{name}.off", tmp / f"{name}.off")
print(f"meshes: {' '.join(sys.argv[3:])} -> {out}")
PYEOF
}
if [ -n "${INSP_RECIPE_STEPS:-}" ]; then echo "meshes: not prepared (INSP_RECIPE_STEPS: insp commands only)"; else prepare; fi

missing=0
for f in $FILES; do [ -f "$F/$f.safetensors" ] || missing=1; done
if [ "$missing" = 1 ]; then
  [ -z "${FILTERS:-}" ] || die "FILTERS=$FILTERS lacks one of: $FILES (.safetensors)"
  if [ -n "${INSP_RECIPE_STEPS:-}" ]; then
    echo "the recorded filters are not in $F/: the parent recipe is not run (INSP_RECIPE_STEPS)"
  else
    echo "the recorded filters are not in $F/: running the parent recipe (experiments/fig8_geometry/run_cpu.sh, ~47 CPU min)"
    (unset RECORD; RECIPE_OUT=runs/recipes/fig8_geometry bash experiments/fig8_geometry/run_cpu.sh)
  fi
fi

fit() {  # fit DEG: the 6 shapes, the recording's fit settings (conf/experiment/fig8_geometry/fit.yaml)
  fit_once "fit $1" "$OUT/fit-$1" "$S/$1" "fit-$1" \
    insp fit +experiment=fig8_geometry/fit data.folder=$MESHES data.split=all degradation=$1 store=$S/$1 \
      hydra.run.dir=$OUT/fit-$1
}
score() {  # score NAME DEG: the recorded filter NAME on the 6 shapes at 128^3 (conf/experiment/fig8_geometry/eval.yaml)
  if ran "$OUT/test-$1" && [ -f "$F/$1.safetensors" ]; then echo "test $1: done earlier, kept"; return 0; fi
  timed "test-$1" insp eval +experiment=fig8_geometry/eval filter=$F/$1.safetensors store=$S/$2 hydra.run.dir=$OUT/test-$1
}
fit clean
for f in $FILES; do case $f in smooth-*) score $f clean ;; esac; done
fit vertex_noise
for f in $FILES; do case $f in denoise_shape-*) score $f vertex_noise ;; esac; done
runs=""
for f in $FILES; do runs="$runs,$OUT/test-$f"; done
timed table insp table table=geometry "runs=[${runs#,}]" out=$DEST
