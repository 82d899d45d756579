"""Label raw text with a trained DLFA checkpoint, through the `pipeline` users use.

    python run_glue_x.py predict MODEL_DIR --input FILE [--output FILE.jsonl] [--batch_size 32]

Sentence tasks read one sentence, or a tab-separated pair, per line; tagging tasks read one whitespace-tokenised
sentence per line. One JSON object per input line comes out. Works offline from a folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from transformers import AutoConfig, pipeline

from .atomic import write_text
from .configuration_dlfa import DLFAConfig

PIPELINE_TASKS = {
    "DLFAForSequenceClassification": "text-classification",
    "DLFAForTokenClassification": "token-classification",
}


class PredictError(ValueError):
    """Bad model folder or input file: the message names it (and the line)."""


def _pipeline_task(model_dir: Path) -> str:
    if not (model_dir / "config.json").is_file():
        raise PredictError(
            f"{model_dir}: no such model folder (expected config.json from a run_glue_x.py run)"
        )
    config = AutoConfig.from_pretrained(model_dir)
    architectures = getattr(config, "architectures", None) or []
    if not isinstance(config, DLFAConfig) or not any(name in PIPELINE_TASKS for name in architectures):
        raise PredictError(
            f"{model_dir}: not a trained DLFA head (architectures {architectures}); "
            f"expected one of {', '.join(PIPELINE_TASKS)}"
        )
    return next(PIPELINE_TASKS[name] for name in architectures if name in PIPELINE_TASKS)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def _sentence_inputs(path: Path) -> list[dict]:
    inputs = []
    for number, line in _lines(path):
        fields = line.split("\t")
        if len(fields) > 2:
            raise PredictError(
                f"{path}:{number}: {len(fields)} tab-separated fields; expected a sentence or a pair"
            )
        inputs.append(
            {"text": fields[0]} if len(fields) == 1 else {"text": fields[0], "text_pair": fields[1]}
        )
    return inputs


def _word_tags(words: list[str], groups: list[dict], labels: set[str]) -> list[str]:
    """One tag per word from the pipeline's word-level groups (the sentence is the words joined by spaces).

    The pipeline merges neighbouring words of one type into a group; BIO tags are restored from the groups.
    """
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    tags = []
    for start in starts:
        group = next(g for g in groups if g["start"] <= start < max(g["end"], g["start"] + 1))
        name = group["entity_group"]
        first = start == group["start"]
        bio = f"{'B' if first else 'I'}-{name}"
        tags.append(bio if bio in labels else name)
    return tags


def predict_file(model_dir: str | Path, input_path: str | Path, *, batch_size: int = 32) -> list[dict]:
    model_dir, input_path = Path(model_dir), Path(input_path)
    task = _pipeline_task(model_dir)
    if task == "text-classification":
        inputs = _sentence_inputs(input_path)
        classify = pipeline(task, model=str(model_dir), tokenizer=str(model_dir))
        outputs = classify(inputs, batch_size=batch_size, top_k=1) if inputs else []
        return [
            {**item, "label": output[0]["label"], "score": float(output[0]["score"])}
            for item, output in zip(inputs, outputs, strict=True)
        ]
    sentences = [line.split() for _, line in _lines(input_path)]
    tagger = pipeline(task, model=str(model_dir), tokenizer=str(model_dir), aggregation_strategy="first")
    labels = set(tagger.model.config.label2id)
    if not sentences:
        return []
    grouped = tagger(sentences, is_split_into_words=True, ignore_labels=[], batch_size=batch_size)
    return [
        {"tokens": words, "tags": _word_tags(words, groups, labels)}
        for words, groups in zip(sentences, grouped, strict=True)
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run_glue_x.py predict", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", help="a run folder (or any saved DLFA head model)")
    parser.add_argument(
        "--input", required=True, help="text file: one sentence / tab-separated pair per line"
    )
    parser.add_argument("--output", help="JSON lines file (default: standard output)")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args(argv)
    records = predict_file(args.model_dir, args.input, batch_size=args.batch_size)
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
