#!/usr/bin/env bash
# INRR's Table 1 (inpainting: random / patch / textural masks x INR, TV, L2, AIR, INRR) at the declared CPU scale.
# Usage, from the repository root:  INSP_THREADS=1 bash experiments/inrr_table1/run_cpu.sh
# Settings: conf/experiment/inrr_table1/fit.yaml (96x96 grayscale, SIREN 3x96, omega0 30, full-batch Adam, the
# regularisers' weights chosen on the validation photos, see README.md). One `insp fit` per mask x method fits
# the 4 test photos together; run dirs under experiments/inrr_table1/cpu/, stores under stores/inrr-table1/.
# times.txt gets the wall and CPU seconds of every command (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/inrr_table1/cpu
S=stores/inrr-table1
ROOT=${INSP_DATA:-data}
mkdir -p "$OUT"

timed() {  # timed NAME CMD...: run, and append "NAME wall user sys" (seconds) to times.txt
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

# the photos: Debian opencv-doc's sample images (baboon, building, home) + scikit-image's camera (cameraman)
prepare_data() {
  if [ ! -f "$ROOT/opencv-doc/baboon.jpg" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download opencv-doc >/dev/null && dpkg -x opencv-doc_*.deb x)
    mkdir -p "$ROOT/opencv-doc"
    cp "$tmp"/x/usr/share/doc/opencv-doc/examples/data/{baboon,building,home,aero3}.jpg "$ROOT/opencv-doc/"
    cp "$tmp"/x/usr/share/doc/opencv-doc/copyright "$ROOT/opencv-doc/" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  sk=$(python -c "import os, skimage; print(os.path.dirname(skimage.__file__))")/data
  mkdir -p "$ROOT/inrr_table1/test" "$ROOT/inrr_table1/val"
  cp "$ROOT"/opencv-doc/{baboon,building,home}.jpg "$sk/camera.png" "$ROOT/inrr_table1/test/"
  cp "$ROOT/opencv-doc/aero3.jpg" "$sk/chelsea.png" "$ROOT/inrr_table1/val/"
}
prepare_data

for deg in random50 patch textural; do
  for reg in none tv l2 air inrr; do
    if [ -f "$OUT/$deg-$reg/metrics.json" ] && grep -q '"complete"' "$OUT/$deg-$reg/metrics.json"; then
      echo "fit $deg $reg: done earlier, kept"; continue
    fi
    rm -rf "$S/$deg-$reg"
    extra=""
    [ "$reg" = air ] && extra="fit.reg_opts.lr=0.1"  # AIR's free adjacency: its best Adam rate on validation
    timed "fit-$deg-$reg" insp fit +experiment=inrr_table1/fit data.folder="$ROOT/inrr_table1/test" \
      degradation=$deg fit.reg=$reg $extra store="$S/$deg-$reg" hydra.run.dir="$OUT/$deg-$reg"
  done
done
timed table insp table table=inrr "runs=[$OUT/*]" out=experiments/inrr_table1 scale=cpu-96
timed figure python experiments/inrr_table1/residuals.py "$ROOT/inrr_table1/test" "$S" experiments/inrr_table1/residuals.png
