#!/usr/bin/env bash
# The GPU check (issue 14): one call of at most 9 minutes on one H100/H200 with no network.
#
#   bash bench/gpu_check.sh --prepare        # HERE: bpe-rs wheel -> .gpu/wheels, data slice + shards -> .gpu/data
#   bash bench/gpu_check.sh --dry-run --out /tmp/gc   # the plan and the commands; checks the inputs, runs nothing heavy
#   bash bench/gpu_check.sh                  # THERE (device run, carry .gpu): every log and table under $OUT
#
# The device machine has python3 with torch/transformers/tiktoken/numpy/pytest/matplotlib but not this project's
# packages and no Rust: the pure-Python packages come from the checkout (PYTHONPATH), bpe-rs from the carried abi3
# wheel, and all data from the carried slice (nothing is downloaded: HF_HUB_OFFLINE, the carried tiktoken cache).
# Steps, in order, each bounded by `timeout` and by what is left of --budget:
#   01 tests      the gpt2 tests on cuda (the `gpu` marker) and the fast gpt2 tests
#   02 speed      the speed ladder at 124M, T=1024 (bench/gpt2_speed.py)
#   03 basic-gpt  basic-gpt's full-size scaled stage (10.8M, 5000 iterations), only if the time left allows
#   04 rope       a short 124M rope run with --compile: its log lines carry tok/s and MFU
# Each step writes $OUT/NN-name.log; $OUT/summary.md gets each step's status (ok / failed rc N / skipped: reason /
# not run: time), rewritten after every step so a run cut short still leaves one.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG="bench/gpu_check.sh"
PREPARE_CMD="bash bench/gpu_check.sh --prepare"
FLAGS="--prepare, --dry-run, --out DIR, --budget SECONDS, --wheels DIR, --data DIR, --overwrite, --help"

die() { # anticipated errors: one line on stderr, exit 2
    echo "$PROG: error: $*" >&2
    exit 2
}

ARGS="$*"
MODE=run OUT_DIR="${OUT:-}" BUDGET=540 WHEELS=.gpu/wheels DATA=.gpu/data OVERWRITE=0
while (($#)); do
    case "$1" in
    --prepare) MODE=prepare ;;
    --dry-run) MODE=dry-run ;;
    --overwrite) OVERWRITE=1 ;;
    --out | --budget | --wheels | --data)
        (($# >= 2)) && [[ -n "$2" && "$2" != --* ]] || die "$1 needs a value"
        case "$1" in
        --out) OUT_DIR=$2 ;;
        --budget) BUDGET=$2 ;;
        --wheels) WHEELS=$2 ;;
        --data) DATA=$2 ;;
        esac
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown flag '$1' (flags: $FLAGS)" ;;
    esac
    shift
done
[[ "$BUDGET" =~ ^[0-9]+$ ]] && ((BUDGET > 0)) || die "--budget '$BUDGET' must be a positive whole number of seconds"
cd "$ROOT" || die "cannot enter $ROOT"

# ------------------------------------------------------------------------------------------------ --prepare (here)
SHARED_DATA="${BFS_SHARED:-$ROOT/../shared}/data"
SHARED_TIKTOKEN="${BFS_SHARED:-$ROOT/../shared}/tiktoken-cache"
SLICE_BYTES=2000000 # 2 MB of Gutenberg: ~500K GPT-2 tokens, enough for the short 124M run's steps
HELLASWAG_LINES=500

prepare() {
    local uv py
    uv=$(command -v uv || echo "$ROOT/.uv/bin/uv")
    py="$ROOT/.venv/bin/python"
    [[ -x "$uv" ]] || die "no uv (looked on PATH and at .uv/bin/uv): run \`make setup\` first"
    [[ -x "$py" ]] || die "no .venv/bin/python: run \`make setup\` first"
    for f in tinyshakespeare.txt gutenberg-en.txt hellaswag_val.jsonl; do
        [[ -f "$SHARED_DATA/$f" ]] || die "$SHARED_DATA/$f not found (set BFS_SHARED=DIR to the shared data's parent)"
    done
    [[ -d "$SHARED_TIKTOKEN" ]] || die "$SHARED_TIKTOKEN not found: the device machine cannot download tiktoken's files"
    if ((!OVERWRITE)); then
        for d in "$WHEELS" "$DATA"; do
            [[ -e "$d" ]] && [[ -n "$(ls -A "$d" 2>/dev/null)" ]] &&
                die "$d already holds files: add --overwrite to replace what --prepare made there"
        done
    fi
    mkdir -p "$WHEELS" "$DATA" || die "cannot create $WHEELS and $DATA"
    # a folder that ignores itself: the carried slice never shows in git status (and `carry` takes ignored paths)
    for d in "$WHEELS" "$DATA"; do
        [[ "$(cd "$d" && git rev-parse --show-toplevel 2>/dev/null)" == "$ROOT" ]] && printf '*\n' >"$d/.gitignore"
    done
    rm -f "$WHEELS"/bpe_rs-*.whl
    echo "building the bpe-rs wheel (abi3, $(uname -m)) -> $WHEELS"
    # the abi3 feature: one wheel for whatever CPython >= 3.11 that machine has (the workspace's build is for its own)
    MATURIN_PEP517_ARGS="--features abi3" "$uv" build --quiet --wheel bpe-rs -o "$WHEELS" ||
        die "the bpe-rs wheel did not build (see above)"
    echo "copying the data slice -> $DATA"
    install -m 644 "$SHARED_DATA/tinyshakespeare.txt" "$DATA/tinyshakespeare.txt"
    head -c "$SLICE_BYTES" "$SHARED_DATA/gutenberg-en.txt" >"$DATA/gutenberg-slice.txt"
    head -n "$HELLASWAG_LINES" "$SHARED_DATA/hellaswag_val.jsonl" >"$DATA/hellaswag_val.slice.jsonl"
    rm -rf "$DATA/tiktoken-cache" "$DATA/shards"
    cp -r "$SHARED_TIKTOKEN" "$DATA/tiktoken-cache" && chmod -R u+w "$DATA/tiktoken-cache"
    echo "tokenizing the slice with gpt2 -> $DATA/shards"
    TIKTOKEN_CACHE_DIR="$DATA/tiktoken-cache" "$py" gpt-2/prepare.py --dataset "$DATA/gutenberg-slice.txt" \
        --tokenizer gpt2 --shard-tokens 100K --out "$DATA/shards" || die "gpt-2/prepare.py failed on the slice"
    printf 'made by `%s` from %s at %s (commit %s)\n' "$PREPARE_CMD" "$SHARED_DATA" "$(date -u +%FT%TZ)" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"$DATA/MADE_BY.txt"
    echo "ready: $(du -sh "$WHEELS" | cut -f1) of wheels, $(du -sh "$DATA" | cut -f1) of data; carry both folders"
}

# ------------------------------------------------------------------------------------------------ the check (there)
check_inputs() {
    compgen -G "$WHEELS/bpe_rs-*-abi3-*x86_64.whl" >/dev/null ||
        die "no bpe-rs abi3 x86_64 wheel in $WHEELS: run \`$PREPARE_CMD\` here and carry the folder"
    local f
    for f in tinyshakespeare.txt hellaswag_val.slice.jsonl shards/val_00000.bin tiktoken-cache; do
        [[ -e "$DATA/$f" ]] || die "$DATA/$f not found: run \`$PREPARE_CMD\` here and carry the folder"
    done
    [[ -n "$OUT_DIR" ]] || die "no output folder: set \$OUT or pass --out DIR"
    if [[ -e "$OUT_DIR/summary.md" ]] && ((!OVERWRITE)); then
        die "$OUT_DIR/summary.md exists: pick another --out or add --overwrite"
    fi
}

# name | timeout (s) | the least time worth starting it with (s) | command (eval'd: $PY, $OUT_DIR, $DATA, $WORK)
STEPS=(
    "01-tests|120|60|\$PY -m pytest -q -rs -p no:cacheprovider -m 'gpu or not slow' --ignore-glob='*notebook*' tests/gpt2 tests/scratch/test_device.py"
    "02-speed|210|120|\$PY bench/gpt2_speed.py --preset gpt2 --steps 20 --threads 8 --device cuda --seq-len 1024 --batch 16 --data \$DATA/tinyshakespeare.txt --json \$OUT_DIR/02-speed.json --image \$OUT_DIR/02-speed.png"
    "03-basic-gpt|400|150|\$PY basic-gpt/gpt.py --stage scaled --preset full --device cuda --data \$DATA/tinyshakespeare.txt --out-dir \$WORK/basic-gpt --no-progress"
    "04-rope|150|90|\$PY gpt-2/train.py --config rope --model gpt2 --data \$DATA/shards --device cuda --compile --max-steps 20 --warmup-steps 5 --micro-batch 16 --seq-len 1024 --total-batch-tokens 16384 --eval-every 0 --hellaswag none --sample-tokens 0 --log-every 1 --out \$WORK/runs"
)
RESERVE_LAST=150 # step 03 runs only if it leaves this for step 04 (which needs less time and matters more)

declare -A STATUS SECS

expand() { eval "echo \"$1\""; } # a step's command with $PY, $OUT_DIR, $DATA, $WORK filled in

write_summary() {
    local s tmp="$OUT_DIR/.summary.md.tmp"
    {
        echo "# GPU check ($MODE)"
        echo
        echo "- command: \`bash $PROG $ARGS\`; budget ${BUDGET} s; started $STARTED"
        echo "- machine: $MACHINE"
        echo "- inputs: wheels $WHEELS, data $DATA ($(head -c 200 "$DATA/MADE_BY.txt" 2>/dev/null || echo 'no MADE_BY.txt'))"
        echo
        echo "| step | status | seconds | log | command |"
        echo "| --- | --- | --- | --- | --- |"
        for s in "${STEPS[@]}"; do
            IFS='|' read -r name _ _ cmd <<<"$s"
            echo "| $name | ${STATUS[$name]} | ${SECS[$name]:--} | $name.log | \`$(expand "$cmd")\` |"
        done
        echo
        echo "Statuses: ok; failed rc N (124: hit its timeout); skipped: reason; not run: time (the budget ran out)."
    } >"$tmp" && mv "$tmp" "$OUT_DIR/summary.md"
}

run_step() { # name timeout min cmd
    local name=$1 limit=$2 least=$3 cmd=$4 left rc t0
    left=$((BUDGET - SECONDS))
    [[ "$name" == 03-* ]] && left=$((left - RESERVE_LAST))
    if ((left < least)); then
        STATUS[$name]="not run: time (${left} s left, needs ${least} s)"
        return
    fi
    ((limit > left)) && limit=$left
    echo "== $name (timeout ${limit} s): $cmd"
    t0=$SECONDS
    (eval "timeout --kill-after=10 $limit $cmd") >"$OUT_DIR/$name.log" 2>&1
    rc=$?
    SECS[$name]=$((SECONDS - t0))
    if ((rc == 0)); then STATUS[$name]=ok; else STATUS[$name]="failed rc $rc"; fi
    ((rc == 124)) && STATUS[$name]+=" (timeout ${limit} s)"
    echo "   ${STATUS[$name]} in ${SECS[$name]} s"
}

setup_env() { # the checkout's packages + the wheel on PYTHONPATH, the carried data as the tests' shared folder
    WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT # the unpacked wheel, the cache copy and the runs' checkpoints: only the logs matter
    mkdir -p "$WORK/site" "$WORK/shared"
    local whl
    for whl in "$WHEELS"/bpe_rs-*-abi3-*x86_64.whl; do # a wheel is a zip: unpacking it is its --no-deps install
        $PY -m zipfile -e "$whl" "$WORK/site" || die "cannot unpack $whl with $PY"
    done
    ln -s "$(cd "$DATA" && pwd)" "$WORK/shared/data"
    cp -r "$DATA/tiktoken-cache" "$WORK/shared/tiktoken-cache" # tiktoken writes into its cache: keep the carried one
    export PYTHONPATH="$WORK/site:$ROOT/scratch:$ROOT/bpe:$ROOT/basic-gpt:$ROOT/gpt-2${PYTHONPATH:+:$PYTHONPATH}"
    export BFS_SHARED="$WORK/shared" TIKTOKEN_CACHE_DIR="$WORK/shared/tiktoken-cache" BFS_CACHE="$WORK/cache"
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
    $PY -c "import bpe_rs, bpe, scratch, basic_gpt, gpt2" >"$OUT_DIR/00-setup.log" 2>&1 ||
        die "the packages do not import with $PY (see $OUT_DIR/00-setup.log)"
}

check() {
    check_inputs
    PY=${PYTHON:-python3}
    STARTED=$(date -u +%FT%TZ)
    mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
    local s name limit least cmd
    for s in "${STEPS[@]}"; do
        IFS='|' read -r name _ _ _ <<<"$s"
        STATUS[$name]="not run: time"
    done
    if [[ $MODE == dry-run ]]; then
        WORK='$WORK' MACHINE="dry run: nothing was started"
        echo "plan (budget ${BUDGET} s; step 03 only if ${RESERVE_LAST} s stay for step 04); logs and summary -> $OUT_DIR"
        for s in "${STEPS[@]}"; do
            IFS='|' read -r name limit least cmd <<<"$s"
            STATUS[$name]="skipped: dry run"
            echo "  $name  timeout ${limit} s, starts only with >= ${least} s left: $(expand "$cmd")"
        done
        write_summary
        echo "inputs ok; wrote $OUT_DIR/summary.md"
        return
    fi
    setup_env
    MACHINE=$($PY -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name())' 2>/dev/null) ||
        MACHINE="no CUDA device seen by $PY"
    write_summary
    if [[ "$MACHINE" == "no CUDA"* ]]; then
        for s in "${STEPS[@]}"; do IFS='|' read -r name _ _ _ <<<"$s" && STATUS[$name]="skipped: no CUDA device"; done
    else
        for s in "${STEPS[@]}"; do
            IFS='|' read -r name limit least cmd <<<"$s"
            run_step "$name" "$limit" "$least" "$cmd"
            write_summary
        done
    fi
    write_summary
    cat "$OUT_DIR/summary.md"
}

if [[ $MODE == prepare ]]; then prepare; else check; fi
