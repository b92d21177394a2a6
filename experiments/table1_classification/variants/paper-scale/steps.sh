# The steps of Table 1 at the paper's scale (all 60,000 train / 10,000 test MNIST INRs, one torch thread per
# command, two side by side), once: sourced by paper-scale/run_cpu.sh (random-init INRs) and
# paper-scale-meta/run_cpu.sh (INRs fitted from a learned init) after experiments/lib.sh and recipe_init.
# The sourcing recipe sets:
#   S          the stores' folder (mnist-train, mnist-test in it)
#   FIT_ARGS   an array of overrides every fit adds to conf/experiment/table1_classification/fit.yaml (may be empty)
#   SCALE      the scale label of the classify runs (their table's)
#   chosen     a function that prints the epochs of INSP-ConvNet and its twin (the meta-fitted variants:
#              paper_scale_epochs, below)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} INSP_THREADS=${INSP_THREADS:-1}
C="train_store=$S/mnist-train test_store=$S/mnist-test"

load() {  # load STEP: the load average when STEP starts (the machine is shared); not under INSP_RECIPE_STEPS
  [ -z "$STEP_DIR" ] || return 0
  echo "$1 $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"
}

fit() {  # the 10,000 test, then the 60,000 train INRs, each split in 2 shards fitted side by side
  local split n k
  for split in test train; do
    n=$([ $split = train ] && echo 60000 || echo 10000)
    load "fit-$split"
    for k in 0 1; do
      lane fit_once "fit $split shard $k" "$OUT/fit-$split-$k" "$S/mnist-$split" "fit-$split-$k" \
        insp fit +experiment=table1_classification/fit data.split=$split data.limit=$n data.shard=$k \
        data.num_shards=2 samples=0 "${FIT_ARGS[@]}" store=$S/mnist-$split hydra.run.dir=$OUT/fit-$split-$k
    done
    join
  done
}

final() {  # final MODEL [OVERRIDES]: trained on all 60,000 train INRs, tested once on the 10,000 test INRs; seed
  # $SEED (default 0), in seed_dir MODEL SEED
  local m=$1 seed=${SEED:-0} step=classify-$1
  shift
  [ "$seed" = 0 ] || step=classify-$m-seed$seed
  load "$step"
  # shellcheck disable=SC2086
  timed "$step" insp classify +experiment=table1_classification/$m $C "$@" seed="$seed" scale="$SCALE" \
    hydra.run.dir="$(seed_dir "$m" "$seed")"
}

validate() {  # validate RUN STORES EPOCHS [OVERRIDE...]: INSP-ConvNet (seed 0) trained on the train INRs 0-49,999 of
  # STORES, scored on 50,000-59,999 (the test INRs are never read), run dir $OUT/RUN; kept when it finished in this
  # tree (a fresh clone has only the records, not the checkpoint: there it runs again)
  local run=$1 stores=$2 epochs=$3
  shift 3
  if [ -f "$OUT/$run/checkpoint.safetensors" ] && ran "$OUT/$run"; then
    echo "$run: done earlier, kept"
    return 0
  fi
  load "$run"
  timed "$run" insp classify +experiment=table1_classification/insp_convnet train_store="$stores/mnist-train" \
    test_store="$stores/mnist-train" train_limit=50000 test_offset=50000 epochs="$epochs" seed=0 "$@" \
    hydra.run.dir="$OUT/$run"
}

paper_scale_epochs() {  # the epochs paper-scale chose on its validation split (its recorded runs, random-init INRs):
  # what the meta-fitted variants reuse
  OUT=experiments/table1_classification/variants/paper-scale/cpu best_on_validation \
    "paper-scale's validation, {c} epochs: {v:.2%}" test_accuracy "val-insp_convnet-e{0}" 1 2
}

classify() {  # INSP-ConvNet and its twin with the chosen epochs, side by side; then the table
  local e
  e=$(chosen)
  echo "chosen on validation: $e epochs (INSP-ConvNet and its twin)"
  lane final insp_convnet epochs="$e"
  lane final depthwise_cnn epochs="$e"
  join
  table
}

seeds() {  # SEEDS="1 2": INSP-ConvNet and its twin again with other seeds (the chosen epochs; the INRs, the
  # validation choice and the weight-space pair, which has no seed-dependent part but the MLP's, are seed 0's)
  local e seed
  e=$(chosen)
  for seed in ${SEEDS:-1 2}; do lane seed_pair "$seed" "$e"; done  # one lane per seed
  join
  table
}
seed_pair() {  # seed_pair SEED EPOCHS: INSP-ConvNet, then its twin
  SEED=$1 final insp_convnet epochs="$2"
  SEED=$1 final depthwise_cnn epochs="$2"
}

table() {  # every finished final run, all seeds
  timed table insp table table=table1 "runs=[$(seed_runs insp_convnet depthwise_cnn pca_svm weight_mlp)]" out=$DEST
}
