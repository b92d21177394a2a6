#!/usr/bin/env bash
# The recorded best photo filter (../cpu-whole19-n3600/: context Pi 4x256 on the K = 2 jets at 5x5 pixels, 3,600
# steps, trained on the 19 training photos) re-scored on 17 real photos outside every source of the photo set
# (scikit-image, scikit-learn, foolbox ImageNet, Debian opencv-doc: docs/photos.md; issue 27: "re-scored on other
# real photos ... that are not among the sources"), as a new user would: Debian mate-backgrounds 1.26.0-1 (its 12
# nature photos, backgrounds/mate/nature/*.jpg) and palapeli-data 4:22.12.3-1 (its 5 puzzle photos,
# palapeli/collection/*.jpg) copied into a folder of their own, `insp fit data=images data.folder=DIR` with the
# recording's fit settings (128x128 centre crop, SIREN 3x128, 150 Adam steps 3e-3 -> 5e-5, noise sigma 25/255),
# `insp eval` with the recorded filter beside the classical denoisers and the DnCNN pixel twin (trained, as
# recorded, on the decoded noisy training INRs of the 19 training photos with Pi's parameter count and steps),
# `insp table`. Nothing here chooses a setting.
# Usage, from the repository root:   FILTER=PATH TWIN_STORE=DIR bash experiments/table2_denoising/variants/outside-photos/run_cpu.sh
# FILTER: the recorded filter (default filters/table2-photos/outside-c5-n3600.safetensors, trained here when absent
# with the recorded command: `insp train-filter +experiment=table2_denoising/train_filter task=denoise
# train.steps=3600` on TWIN_STORE, ~7 CPU min). TWIN_STORE: the noisy INRs of the 19 whole training photos
# (default ${INSP_STORES:-stores}/table2-photos/noise-train-whole, fitted here when absent with the recorded
# command, ~4 CPU min). RECORD=1 re-records into this folder; otherwise runs/recipes/table2_denoising/variants/outside-photos/.
set -euo pipefail
source "$(dirname "$0")/../../../lib.sh"
recipe_init table2_denoising/variants/outside-photos
S=${INSP_STORES:-stores}/outside-photos
TWIN_STORE=${TWIN_STORE:-${INSP_STORES:-stores}/table2-photos/noise-train-whole}
FILTER=${FILTER:-filters/table2-photos/outside-c5-n3600.safetensors}
DATA=${INSP_DATA:-data}
PHOTOS=$DATA/outside-photos

prepare() {  # the 17 photos, from two Debian packages fetched with insp's Debian machinery (apt-get download + dpkg -x)
  [ -f "$PHOTOS/DEBIAN_VERSIONS" ] && { echo "photos: $PHOTOS (kept)"; return 0; }
  "${PY[@]}" - "$DATA" "$PHOTOS" <<'PYEOF'
import shutil, sys
from pathlib import Path
from insp_cli.data.debian import unpacked_deb
from insp_cli.errors import InspError
from insp_cli.files import atomic_dir
root, out = Path(sys.argv[1]), Path(sys.argv[2])
versions = []
try:
    with atomic_dir(out) as tmp:
        for package, where in (("mate-backgrounds", "usr/share/backgrounds/mate/nature"),
                               ("palapeli-data", "usr/share/palapeli/collection")):
            with unpacked_deb(package, root, f"copy its {where}/*.jpg into {out}/ by hand") as (tree, version):
                for p in sorted((tree / where).glob("*.jpg")):
                    shutil.copy2(p, tmp / p.name)
                versions.append(f"{package} {version}")
        (tmp / "DEBIAN_VERSIONS").write_text("\n".join(versions) + "\n")
except InspError as e:
    sys.exit(f"error: {e}")
print(f"photos: {len(list(out.glob('*.jpg')))} from {', '.join(versions)} -> {out}")
PYEOF
}
if [ -n "${INSP_RECIPE_STEPS:-}" ]; then echo "photos: not prepared (INSP_RECIPE_STEPS: insp commands only)"; else prepare; fi

# the outside photos, fitted with the recording's settings (conf/experiment/table2_denoising/fit.yaml, given here
# one by one: that experiment selects data=photos, which takes no folder)
fit_once "fit" "$OUT/fit" "$S/noise" "fit" \
  insp fit data=images data.folder=$PHOTOS data.split=all data.size=128 model.hidden=128 model.depth=3 \
    fit.steps=150 fit.lr=3e-3 fit.lr_final=5e-5 degradation=noise tracking.mode=disabled store=$S/noise \
    hydra.run.dir=$OUT/fit
if [ ! -f "$FILTER" ] || [ ! -d "$TWIN_STORE" ]; then  # the recorded training photos and filter (../cpu-whole19-n3600/)
  fit_once "fit train" "$OUT/fit-train" "$TWIN_STORE" "fit-train" \
    insp fit +experiment=table2_denoising/fit data.split=train data.crops=1 degradation=noise store=$TWIN_STORE \
      hydra.run.dir=$OUT/fit-train
fi
if [ ! -f "$FILTER" ]; then
  timed train-filter insp train-filter +experiment=table2_denoising/train_filter task=denoise store=$TWIN_STORE \
    filter=$FILTER train.steps=3600 hydra.run.dir=$OUT/train-filter
fi
{ [ -f "$FILTER" ] && ran "$OUT/eval-classical"; } && echo "eval-classical: done earlier, kept" || \
  timed eval-classical insp eval +experiment=table2_denoising/eval filter=$FILTER store=$S/noise check_2x=false \
    "baselines=[mean_filter,median_filter,gaussian_filter,nl_means,tv_chambolle,wavelet,bm3d]" \
    hydra.run.dir=$OUT/eval-classical
{ [ -f "$FILTER" ] && ran "$OUT/eval-twin"; } && echo "eval-twin: done earlier, kept" || \
  timed eval-twin insp eval +experiment=table2_denoising/eval filter=$FILTER store=$S/noise check_2x=false \
    "baselines=[dncnn]" twin.store=$TWIN_STORE hydra.run.dir=$OUT/eval-twin
timed table insp table table=table2 "runs=[$OUT/eval-classical,$OUT/eval-twin]" out=$DEST
