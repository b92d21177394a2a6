# Sourced (after ../../lib.sh and recipe_init) by the cpu-whole19-* variants' run_cpu.sh: their one fit step.
# fit_whole19 STORES: the noisy INRs of the photo set's three splits, as recorded (conf/experiment/table2_denoising/
# fit.yaml): the 19 whole training photos (data.crops=1) in STORES/noise-train, the 5 validation and 26 test photos in
# STORES/noise-val and STORES/noise-test; run dirs $OUT/fit-{train,val,test}; each fitted once (fit_once).
fit_whole19() {
  local split crops
  for split in train val test; do
    crops=(); [ $split = train ] && crops=(data.crops=1)  # the 19 whole training photos
    fit_once "fit $split" "$OUT/fit-$split" "$1/noise-$split" "fit-$split" \
      insp fit +experiment=table2_denoising/fit data.split=$split "${crops[@]}" degradation=noise \
      store=$1/noise-$split hydra.run.dir=$OUT/fit-$split
  done
}
