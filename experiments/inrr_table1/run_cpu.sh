#!/usr/bin/env bash
# INRR's Table 1 (inpainting: random / patch / textural / blocks masks x INR, TV, L2, AIR, INRR) at the declared
# CPU scale cpu-128. Usage, from the repository root:  bash experiments/inrr_table1/run_cpu.sh
# (RECORD=1 bash ... re-records the committed results).
# Settings: conf/experiment/inrr_table1/fit128.yaml (128x128 grayscale, SIREN 5x128, omega0 30, 500 full-batch
# Adam steps, every regulariser's weight chosen on the validation photos, see README.md). One `insp fit` per
# mask x method fits the 4 test photos together; INSP_JOBS (default 2) fits run at once, one thread each.
# Run dirs, the table and residuals.png go under runs/recipes/inrr_table1/ (scratch, git-ignored; RECIPE_OUT=DIR
# elsewhere), or with RECORD=1 under experiments/inrr_table1/ (run dirs in cpu/); stores under
# stores/inrr-table1-128/; times.txt gets the wall and CPU seconds of every command (/usr/bin/time). A fit whose
# store is complete (verified) is kept (the recipe resumes).
# The cpu-96 recording of sessions 5-7 is in variants/cpu-96/ (its commands in its table.json).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
recipe_init inrr_table1  # DEST: the table's folder; OUT=$DEST/cpu: the run dirs
S=stores/inrr-table1-128
ROOT=${INSP_DATA:-data}
JOBS=${INSP_JOBS:-2}
export INSP_THREADS=${INSP_THREADS:-1}

# the photos: Debian opencv-doc's sample images (baboon, building, home) + scikit-image's camera (cameraman)
prepare_data() {
  if [ ! -f "$ROOT/opencv-doc/baboon.jpg" ]; then
    command -v apt-get >/dev/null || { echo "error: opencv-doc's photos are not in $ROOT/opencv-doc and apt-get is not here to fetch them" >&2; exit 2; }
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download opencv-doc >/dev/null && dpkg -x opencv-doc_*.deb x)
    mkdir -p "$ROOT/opencv-doc"
    cp "$tmp"/x/usr/share/doc/opencv-doc/examples/data/{baboon,building,home,aero3}.jpg "$ROOT/opencv-doc/"
    cp "$tmp"/x/usr/share/doc/opencv-doc/copyright "$ROOT/opencv-doc/" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  sk=$("${PY[@]}" -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
  mkdir -p "$ROOT/inrr_table1/test" "$ROOT/inrr_table1/val"
  cp "$ROOT"/opencv-doc/{baboon,building,home}.jpg "$sk/camera.png" "$ROOT/inrr_table1/test/"
  cp "$ROOT/opencv-doc/aero3.jpg" "$sk/chelsea.png" "$ROOT/inrr_table1/val/"
}
prepare_data

fit_one() {  # fit_one MASK REG: the 4 test photos under one mask and one regulariser
  local deg=$1 reg=$2 extra=""
  if fit_done "$OUT/$deg-$reg" "$S/$deg-$reg"; then
    echo "fit $deg $reg: done earlier ($S/$deg-$reg verified), kept"; return 0
  fi
  rm -rf "$S/$deg-$reg"
  [ "$reg" = air ] && extra="fit.reg_opts.lr=0.1"  # AIR's free adjacency: its best Adam rate on validation
  timed "fit-$deg-$reg" insp fit +experiment=inrr_table1/fit128 data.folder="$ROOT/inrr_table1/test" \
    degradation=$deg fit.reg=$reg $extra store="$S/$deg-$reg" hydra.run.dir="$OUT/$deg-$reg" > "$OUT/$deg-$reg.out" 2>&1 \
    || { echo "error: fit $deg $reg failed (last lines of $OUT/$deg-$reg.out):" >&2; tail -3 "$OUT/$deg-$reg.out" >&2; return 1; }
  rm -f "$OUT/$deg-$reg.out"
}

REGS="$*"
pids=()
for deg in random50 patch textural blocks; do
  for reg in ${REGS:-none tv l2 air inrr}; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
    fit_one "$deg" "$reg" & pids+=($!)
  done
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ "$status" = 0 ] || { echo "error: some fits failed; rerun the script to redo only those" >&2; exit 1; }
[ -z "$REGS" ] || exit 0
timed table insp table table=inrr "runs=[$OUT/*-*]" out=$DEST scale=cpu-128
timed figure "${PY[@]}" experiments/inrr_table1/residuals.py "$ROOT/inrr_table1/test" "$S" "$DEST/residuals.png"
