# Sourced by every experiments/*/run_cpu.sh (and oinr_tables/validate.sh): what the recipes share, once.
#
#   recipe_init NAME [SUB]   cd to the repository root; DEST = where this run writes, OUT = DEST/SUB (run dirs,
#                            default cpu). By default DEST is a scratch folder, ${RECIPE_OUT:-runs/recipes/NAME}
#                            (git-ignored): a rerun never touches the committed results. RECORD=1 writes into
#                            experiments/NAME/ instead (re-records them). It says which.
#   timed STEP CMD...        run one command and append "STEP wall user sys" (seconds) to $OUT/times.txt.
#                            INSP_RECIPE_STEPS=N runs only the first N commands and skips the rest (a quick check
#                            of a recipe, tests/test_recipes.py).
#   fit_done RUN_DIR STORE   true when that fit is finished, verified: RUN_DIR/metrics.json says complete and
#                            names STORE, and STORE opens (insp_cli's own checks: header, manifest, every shard
#                            present and sound) holding all the INRs of the fit's range. A recorded metrics.json
#                            without its store (a fresh clone) is not "done".
#   fit_once LABEL RUN_DIR STORE STEP CMD...
#                            the recipes' one fit step: says "LABEL: done earlier (STORE verified), kept" when
#                            fit_done RUN_DIR STORE, else runs `timed STEP CMD...` (an unfinished STORE of the same
#                            settings is resumed by `insp fit` itself; one of other settings is refused by it).
#   PY                       the Python that runs `insp` (its shebang), for the recipes' small helpers.

die() { echo "error: $*" >&2; exit 2; }

recipe_init() {
  local name=$1 sub=${2:-cpu} line
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  case "${RECORD:-0}" in
    1)
      [ -z "${RECIPE_OUT:-}" ] || die "RECORD=1 records into experiments/$name/; unset RECIPE_OUT=$RECIPE_OUT"
      DEST=experiments/$name
      echo "recording into $DEST/ (RECORD=1): its committed runs, tables and figures are rewritten" ;;
    0)
      DEST=${RECIPE_OUT:-runs/recipes/$name}
      echo "writing to $DEST/ (scratch; RECORD=1 re-records into experiments/$name/)" ;;
    *) die "RECORD=${RECORD}: use RECORD=1 to re-record into experiments/$name/, or leave it unset" ;;
  esac
  command -v insp >/dev/null \
    || die "insp is not on PATH (install the package, e.g. pip install -e ., and activate its environment)"
  OUT=$DEST/$sub
  mkdir -p "$OUT"
  read -r line < "$(command -v insp)" || true
  case "$line" in
    "#!"*python*) read -ra PY <<< "${line#\#!}" ;;
    *) PY=(python3) ;;
  esac
  STEP_DIR=""
  if [ -n "${INSP_RECIPE_STEPS:-}" ]; then
    [[ "$INSP_RECIPE_STEPS" =~ ^[0-9]+$ ]] || die "INSP_RECIPE_STEPS=$INSP_RECIPE_STEPS is not a number of commands"
    STEP_DIR=$(mktemp -d)
    trap 'rm -rf "$STEP_DIR"' EXIT
    echo "INSP_RECIPE_STEPS=$INSP_RECIPE_STEPS: only the first $INSP_RECIPE_STEPS command(s) run"
  fi
}

_claim_step() {  # true while fewer than INSP_RECIPE_STEPS commands have started (mkdir is atomic: parallel jobs)
  local i
  [ -n "$STEP_DIR" ] || return 0
  for ((i = 1; i <= INSP_RECIPE_STEPS; i++)); do
    mkdir "$STEP_DIR/$i" 2>/dev/null && return 0
  done
  return 1
}

timed() {  # timed STEP CMD...
  local name=$1; shift
  if ! _claim_step; then
    echo "$name: skipped (INSP_RECIPE_STEPS=$INSP_RECIPE_STEPS)"
    return 0
  fi
  /usr/bin/time -f "$name %e %U %S" -a -o "$OUT/times.txt" "$@"
}

ran() {  # ran RUN_DIR: true when that run finished (its metrics.json says status complete)
  [ -f "$1/metrics.json" ] && grep -q '"status": "complete"' "$1/metrics.json"
}

fit_done() {  # fit_done RUN_DIR STORE
  [ -f "$1/metrics.json" ] && [ -d "$2" ] || return 1
  local rc=0
  "${PY[@]}" - "$1" "$2" <<'EOF' || rc=$?
import json, os, sys
run, store = sys.argv[1:3]


def redo(why):
    print(f"  {run}: {why}: fitting (again)")
    sys.exit(1)


def check():
    try:
        with open(os.path.join(run, "metrics.json"), encoding="utf-8") as f:
            m = json.load(f)
        lo, hi = (int(x) for x in m["range"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        redo(f"metrics.json is unreadable or incomplete ({e})")
    if m.get("status") != "complete":
        redo(f"its status is {m.get('status')!r}")
    if os.path.realpath(str(m.get("store"))) != os.path.realpath(store):
        redo(f"it fitted {m.get('store')}, not {store}")
    from insp_cli.errors import InspError  # imported only now: the checks above need no torch
    from insp_cli.inr.store import INRStore
    try:
        s = INRStore.open(store, only_ok=False, verify="fast")
    except InspError as e:
        redo(f"its store is not usable ({e})")
    n = int(((s.indices >= lo) & (s.indices < hi)).sum())
    if n != hi - lo or n != m.get("count"):
        redo(f"{store} holds {n} of its {hi - lo} INRs [{lo}, {hi}) (the run counted {m.get('count')})")


try:
    check()
except Exception as e:  # not a verdict (no insp_cli here, an unreadable store folder): the recipe stops
    print(f"error: cannot check {store} with {sys.executable}: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(3)
EOF
  [ "$rc" -le 1 ] || exit 2
  return "$rc"
}

fit_once() {  # fit_once LABEL RUN_DIR STORE STEP CMD...
  local label=$1 run=$2 store=$3 step=$4
  shift 4
  if fit_done "$run" "$store"; then
    echo "$label: done earlier ($store verified), kept"
    return 0
  fi
  timed "$step" "$@"
}

# lane CMD...: run a step of the recipe beside the others; join waits for every lane (a failed one stops the recipe).
# Under INSP_RECIPE_STEPS the lanes run one after another, so "the first N commands" are the same on every run.
lane() {
  if [ -n "${STEP_DIR:-}" ]; then "$@" || die "a command of the recipe failed (see above)"; return; fi
  "$@" & LANES+=($!)
}
join() { local p; for p in "${LANES[@]}"; do wait "$p" || die "a command of the recipe failed (see above)"; done; LANES=(); }
LANES=()

# Table 1's classifier runs per seed (its recipes and variants): seed 0 in $OUT/MODEL, seed k in $OUT/seed<k>/MODEL
seed_dir() { if [ "$2" = 0 ]; then echo "$OUT/$1"; else echo "$OUT/seed$2/$1"; fi; }  # seed_dir MODEL SEED
seed_runs() {  # seed_runs MODEL...: the run dirs of those models that have a metrics.json, every seed, comma-separated
  local runs=() m d
  for m in "$@"; do
    for d in "$OUT/$m" "$OUT"/seed*/"$m"; do
      [ -f "$d/metrics.json" ] && runs+=("$d")
    done
  done
  (IFS=,; echo "${runs[*]}")
}

best_on_validation() {  # best_on_validation LINE METRIC RUN CANDIDATE...: prints the candidate whose validation run
  # $OUT/RUN (RUN a Python format of the candidate's ':'-separated fields, e.g. val-c{0}s{1}) finished (metrics.json
  # says complete) with the highest METRIC, a dotted path into its metrics (rows.insp_net.psnr of an eval,
  # test_accuracy of a classify run), after one LINE (a Python format of c and v) per candidate on stderr; a tie goes
  # to the candidate named first; under INSP_RECIPE_STEPS with no validation run, the first candidate
  "${PY[@]}" - "$OUT" "$@" <<'PYEOF'
import json, os, sys
out, line, metric, run, cands = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
got = {}
for c in cands:
    try:
        with open(os.path.join(out, run.format(*c.split(":")), "metrics.json"), encoding="utf-8") as f:
            m = json.load(f)
        if m.get("status") != "complete":
            continue
        v = m.get("metrics", m)
        for key in metric.split("."):
            v = v[key]
        got[c] = v
    except (OSError, ValueError, KeyError, TypeError):
        pass
if not got:
    if os.environ.get("INSP_RECIPE_STEPS"):  # a quick check of the recipe: no validation ran
        print(cands[0])
        sys.exit(0)
    print("error: no finished validation run of any candidate (run the validation step first)", file=sys.stderr)
    sys.exit(2)
for c, v in got.items():
    print(line.format(c=c, v=v), file=sys.stderr)
print(max(got, key=got.get))
PYEOF
}
