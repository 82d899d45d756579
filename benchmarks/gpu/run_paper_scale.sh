#!/usr/bin/env bash
# Paper-scale zero-shot runs (mBERT base, XLM-R base; XNLI, PAWS-X, PAN-X, UD-POS) with XTREME's recipe.
# See benchmarks/gpu/README.md. UNTESTED AT SCALE: written and dry-run checked on a CPU-only machine.
#
#   bash benchmarks/gpu/run_paper_scale.sh                      # everything, the paper's best layers
#   LAYERS=paper-sweep bash benchmarks/gpu/run_paper_scale.sh   # the paper's sweep none,1..11 (6x the time)
#   TASKS=pawsx MODELS=bert-base-multilingual-cased bash benchmarks/gpu/run_paper_scale.sh
#   DRY_RUN=1 bash benchmarks/gpu/run_paper_scale.sh            # print the commands only
#
# Settings (environment variables):
#   MODELS   space-separated Hub ids or local folders   (bert-base-multilingual-cased FacebookAI/xlm-roberta-base)
#   TASKS    space-separated subset of xnli pawsx panx udpos   (all four)
#   LAYERS   paper-best (none + the paper's best layer per task) | paper-sweep (none,1..11, the paper's
#            sweep) | all (none,0..11) | an explicit --fusion_layer list such as none,6,8,10,11   (paper-best)
#   GATE     paper (Eq. 1 as written, the paper's recipe) | sigmoid (AFF's bounded gate, run_glue_x.py's
#            default since the CPU experiment, benchmarks/RESULTS.md)   (paper)
#   SEEDS    space-separated seeds                        (42)
#   RUN_ROOT output root of the runs                     (runs/paper_scale)
#            (not $OUT: on the lent device machines $OUT is the folder that comes back, 8 files at most)
#   DATA_DIR an XTREME-layout folder with train-en, dev-en and test-<lang> files (default: the Hub)
#   MAX_TRAIN_SAMPLES  truncate the English training set (a slice, e.g. to time one epoch)
#   EPOCHS_SEQUENCE / EPOCHS_TOKEN   epochs for XNLI+PAWS-X / PAN-X+UD-POS   (5 / 10, XTREME's)
#   EXTRA_ARGS  more run_glue_x.py flags, e.g. "--bf16 true" or "--tf32 true" (default: none, plain fp32)
#   SAVE_MODEL  true to keep the fine-tuned weights (700 MB-1.1 GB per setting)   (false)
#   PACK_TO  a .tar.gz path: pack every small result file (results/sweep/run_config json, reports, compare/,
#            wall times; no weights, no predictions) into it at the end, e.g. PACK_TO="$OUT/paper_scale.tar.gz"
#            on a lent device machine, whose $OUT folder comes back (at most 8 files)
#   DRY_RUN  1 to print the commands without running them
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python}"
MODELS="${MODELS:-bert-base-multilingual-cased FacebookAI/xlm-roberta-base}"
TASKS="${TASKS:-xnli pawsx panx udpos}"
LAYERS="${LAYERS:-paper-best}"
GATE="${GATE:-paper}"
SEEDS="${SEEDS:-42}"
RUN_ROOT="${RUN_ROOT:-runs/paper_scale}"
EPOCHS_SEQUENCE="${EPOCHS_SEQUENCE:-5}"
EPOCHS_TOKEN="${EPOCHS_TOKEN:-10}"
SAVE_MODEL="${SAVE_MODEL:-false}"
DRY_RUN="${DRY_RUN:-0}"

# The paper's best layer per task for mBERT base (docs: dlfa-method.md): XNLI D11, PAWS-X D6, NER D8, POS D10.
best_layer() {
    case "$1" in
        xnli) echo 11 ;;
        pawsx) echo 6 ;;
        panx) echo 8 ;;
        udpos) echo 10 ;;
    esac
}

layers_for() {
    case "$LAYERS" in
        paper-best) echo "none,$(best_layer "$1")" ;;
        paper-sweep) echo "none,1,2,3,4,5,6,7,8,9,10,11" ;;
        *) echo "$LAYERS" ;;
    esac
}

# The paper's gate keeps the folder names it always had; another gate gets its own folders.
gated() {
    if [[ "$GATE" == paper ]]; then echo "$1"; else echo "$1-$GATE"; fi
}

run_dir() {
    echo "$RUN_ROOT/$(gated "$1")/$2/seed$3"
}

epochs_for() {
    case "$1" in
        xnli | pawsx) echo "$EPOCHS_SEQUENCE" ;;
        *) echo "$EPOCHS_TOKEN" ;;
    esac
}

short_name() {
    case "$1" in
        *xlm-roberta-base*) echo xlmr-base ;;
        *bert-base-multilingual-cased*) echo mbert-base ;;
        *) basename "$1" ;;
    esac
}

mkdir -p "$RUN_ROOT"
if [[ "$DRY_RUN" != 1 ]]; then
    "$PYTHON" - "$RUN_ROOT/manifest.json" <<'PY'
import datetime, json, sys
sys.path.insert(0, "benchmarks")
import torch
from environment import versions
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
json.dump({
    "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    "gpu": gpu, "cuda": torch.version.cuda,
} | versions(), open(sys.argv[1], "w"), indent=2)
PY
fi

started_all=$(date +%s)
for model in $MODELS; do
    name=$(short_name "$model")
    for task in $TASKS; do
        for seed in $SEEDS; do
            dir=$(run_dir "$name" "$task" "$seed")
            if [[ -f "$dir/sweep.json" || -f "$dir/results.json" ]]; then
                echo "== $dir is complete: skipped"
                continue
            fi
            args=(
                run_glue_x.py
                --task_name "$task"
                --model_name_or_path "$model"
                --fusion_layer "$(layers_for "$task")"
                --fusion_gate "$GATE"
                --do_train
                --eval_split test
                --learning_rate 2e-5
                --head_learning_rate 2e-5
                --max_seq_length 128
                --per_device_train_batch_size 8
                --gradient_accumulation_steps 4
                --per_device_eval_batch_size 128
                --num_train_epochs "$(epochs_for "$task")"
                --weight_decay 0
                --warmup_steps 0
                --lr_scheduler_type linear
                --seed "$seed"
                --output_dir "$dir"
                --save_model "$SAVE_MODEL"
                --save_only_model true
                --save_total_limit 1
                --report_to none
                --disable_tqdm true
                --logging_steps 500
            )
            [[ -n "${DATA_DIR:-}" ]] && args+=(--data_dir "$DATA_DIR")
            [[ -n "${MAX_TRAIN_SAMPLES:-}" ]] && args+=(--max_train_samples "$MAX_TRAIN_SAMPLES")
            # shellcheck disable=SC2206
            [[ -n "${EXTRA_ARGS:-}" ]] && args+=($EXTRA_ARGS)
            echo "== $dir"
            echo "$PYTHON ${args[*]}"
            [[ "$DRY_RUN" == 1 ]] && continue
            mkdir -p "$dir"
            started=$(date +%s)
            # An interrupted run resumes from its last epoch checkpoint when started again (same flags).
            "$PYTHON" "${args[@]}" 2>&1 | tee -a "$dir/log.txt"
            echo "{\"wall_s\": $(($(date +%s) - started))}" >"$dir/wall_time.json"
        done
    done
done

# One comparison per task (and seed) across the models: the selected setting of each sweep side by side.
if [[ "$DRY_RUN" != 1 ]]; then
    for task in $TASKS; do
        for seed in $SEEDS; do
            dirs=()
            for model in $MODELS; do
                dir=$(run_dir "$(short_name "$model")" "$task" "$seed")
                [[ -f "$dir/sweep.json" || -f "$dir/results.json" ]] && dirs+=("$dir")
            done
            if ((${#dirs[@]})); then
                "$PYTHON" run_glue_x.py compare "${dirs[@]}" --output_dir "$RUN_ROOT/$(gated compare)/$task-seed$seed" || true
            fi
        done
    done
    echo "{\"wall_s\": $(($(date +%s) - started_all))}" >"$RUN_ROOT/wall_time.json"
fi
if [[ -n "${PACK_TO:-}" && "$DRY_RUN" != 1 ]]; then
    mkdir -p "$(dirname "$PACK_TO")"
    (cd "$RUN_ROOT" && find . \( -name '*.json' -o -name '*.md' -o -name '*.png' -o -name log.txt \) \
        -not -path '*/checkpoint-*' -not -name 'config.json' -not -name 'tokenizer*' -print0 |
        tar --null -czf "$PACK_TO" --files-from=-)
    echo "packed $(tar -tzf "$PACK_TO" | wc -l) files into $PACK_TO ($(du -h "$PACK_TO" | cut -f1))"
fi
echo "done: results under $RUN_ROOT (results.json per setting, sweep.json per sweep, compare/ per task)"
