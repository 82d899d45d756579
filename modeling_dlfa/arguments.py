"""Command-line arguments of run_glue_x.py, as dataclasses for `HfArgumentParser` (the run_glue.py way)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from transformers import HfArgumentParser, TrainingArguments

from .configuration_dlfa import FUSION_GATES, FUSION_INITS, GLOBAL_NORMS
from .features import LABEL_PIECES

SWEEP_BACKENDS = ("local", "ray")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        metadata={"help": "A plain encoder (mBERT, XLM-R, a local folder) or a trained DLFA checkpoint."}
    )
    fusion_layer: str | None = field(
        default=None,
        metadata={
            "help": "Layer fused with the last one: an int (0 = embeddings), 'none' for the last-layer baseline, "
            "a comma list ('none,1,6,11') or 'all' for a sweep. Required unless the model is a DLFA checkpoint."
        },
    )
    fusion_gate: str = field(
        default="sigmoid",
        metadata={
            "help": "AIF gate: 'sigmoid' (AFF's bounded gate; ahead of 'paper' in the CPU experiment, "
            "benchmarks/RESULTS.md) or 'paper' (Eq. 1 as written, unbounded).",
            "choices": FUSION_GATES,
        },
    )
    fusion_init: str = field(
        default="paper",
        metadata={
            "help": "How the fusion starts: 'paper' (Eq. 2 as written) or 'identity' (the fused layer equals the "
            "last layer at step 0; a per-channel scale, initialised to 0, learns how much fusion to use).",
            "choices": FUSION_INITS,
        },
    )
    aif_global_norm: str = field(
        default="layer",
        metadata={
            "help": "Normalisation of the AIF's global branch: 'layer' (per example, so what the model learns "
            "does not depend on the per-device batch size) or 'batch' (the paper's BatchNorm; measured to "
            "train differently at one example per device).",
            "choices": GLOBAL_NORMS,
        },
    )
    aif_reduction: int = field(default=4, metadata={"help": "AIF channel reduction ratio r."})
    classifier_dropout: float | None = field(default=None, metadata={"help": "Defaults to the backbone's."})
    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "Keep the (large, multilingual) word embedding matrix fixed: much faster on CPU."},
    )
    model_revision: str = field(
        default="main", metadata={"help": "Branch, tag or commit of the model on the Hub."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where Hub downloads are cached."})
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Config name or path to use instead of the model's own (a plain backbone only; e.g. one "
            "with other dropout); the weights still come from --model_name_or_path."
        },
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer name or path, if not the model's own."}
    )
    token: str | None = field(
        default=None,
        metadata={
            "help": "Hub token for private models and datasets (default: HF_TOKEN or the stored login)."
        },
    )
    use_safetensors: bool = field(
        default=True,
        metadata={
            "help": "Load safetensors weights only; --use_safetensors false opts in to pickle weights."
        },
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "Let configs and tokenizers run code from their repository. DLFA still wraps only "
            "encoders that transformers implements (an AutoModel class)."
        },
    )


@dataclass
class DataArguments:
    task_name: str | None = field(
        default=None, metadata={"help": "xnli, pawsx, panx (alias wikiann) or udpos; or give --task_file."}
    )
    task_file: str | None = field(
        default=None,
        metadata={
            "help": "A JSON or YAML file defining your own task: kind, labels, languages, metric, and its "
            "data (files per split and language, or a Hub dataset). See modeling_dlfa/task_files.py."
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "A folder in the XTREME layout: <split>-<lang>.tsv (default: the Hub)."},
    )
    train_file: str | None = field(
        default=None,
        metadata={"help": "Training data of the training language (.tsv or .jsonl; udpos also .conllu)."},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "The training language's dev set, used for checkpoint selection."}
    )
    eval_files: str | None = field(
        default=None,
        metadata={
            "help": "Evaluation files per language: 'de=path,fr=path' (.tsv or .jsonl; udpos also .conllu)."
        },
    )
    train_language: str = field(
        default="en", metadata={"help": "The one language trained (and selected) on."}
    )
    eval_languages: str | None = field(
        default=None, metadata={"help": "Comma list of languages to evaluate (default: every one available)."}
    )
    eval_split: str = field(
        default="validation",
        metadata={
            "help": "Split evaluated for every language when no --do_* flag is given; 'test' is --do_predict.",
            "choices": ("validation", "test"),
        },
    )
    train_split: str = field(
        default="train",
        metadata={
            "help": "Split of the training language to train on. 'validation' with --dev_holdout trains on a "
            "dev set (e.g. ../shared/data has no XNLI train file).",
            "choices": ("train", "validation"),
        },
    )
    dev_holdout: int | None = field(
        default=None,
        metadata={
            "help": "Hold out this many training examples as the training language's dev set; they are also "
            "its evaluation set (they are never trained on)."
        },
    )
    max_seq_length: int = field(
        default=128,
        metadata={
            "help": "Longer sentence pairs are truncated (and counted); longer tagged sentences are split into "
            "windows of whole words that fit, and their predictions stitched back."
        },
    )
    label_piece: str = field(
        default=LABEL_PIECES[0],
        metadata={
            "help": "Tagging tasks: the sub-token of each word that carries its label and prediction. "
            "'first_with_text' skips a bare sentencepiece '▁' that starts a longer word (common for CJK with "
            "XLM-R vocabularies); 'first' is XTREME's rule.",
            "choices": LABEL_PIECES,
        },
    )
    label_all_tokens: bool = field(
        default=False,
        metadata={
            "help": "Tagging tasks: train on every sub-token of a word, not only on its label piece (the "
            "other pieces get the word's tag, B-X as I-X, as run_ner.py). Scoring still reads one prediction "
            "per word, at its label piece."
        },
    )
    pad_to_max_length: bool = field(
        default=False, metadata={"help": "Pad every example to max_seq_length instead of per batch."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training set."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Truncate each language's validation set (and the dev set)."}
    )
    max_predict_samples: int | None = field(
        default=None,
        metadata={"help": "Truncate each language's test set (default: as --max_eval_samples)."},
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "A Hub dataset to read the task from instead of its default one."}
    )
    dataset_config_name: str | None = field(
        default=None,
        metadata={
            "help": "The dataset's config for each language, with {language} standing for the language code "
            "(e.g. '{language}' or 'ner.{language}')."
        },
    )
    text_column_name: str | None = field(
        default=None,
        metadata={
            "help": "The Hub dataset's text column (tagging: the words; sentence pairs: 'first,second')."
        },
    )
    label_column_name: str | None = field(
        default=None, metadata={"help": "The Hub dataset's label column (tagging: the tags)."}
    )
    return_entity_level_metrics: bool = field(
        default=False,
        metadata={
            "help": "Tagging tasks: also each entity type's precision, recall, F1 and count, per language."
        },
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes that tokenize in parallel (default: this one only)."}
    )
    features_cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where tokenized features are cached (default ~/.cache/modeling_dlfa/features)."},
    )
    overwrite_cache: bool = field(
        default=False, metadata={"help": "Tokenize again instead of reusing the cache."}
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Replace the results in an output_dir that already holds some."}
    )
    save_model: bool = field(
        default=True, metadata={"help": "Save the trained model (with its remote code)."}
    )


@dataclass
class GlueXTrainingArguments(TrainingArguments):
    """TrainingArguments whose defaults select the checkpoint on the training language's dev set, each epoch.

    --do_train, --do_eval and --do_predict mean what they mean in run_glue.py (train; score every language's
    validation split; score every language's test split and write predictions). Without any of them a run does
    the default job: train a plain encoder (not a DLFA checkpoint) and score --eval_split.
    """

    do_train: bool = field(default=False, metadata={"help": "Train on the training language."})
    do_eval: bool = field(
        default=False, metadata={"help": "Score every language's validation split (eval_results.json)."}
    )
    do_predict: bool = field(
        default=False,
        metadata={"help": "Score every language's test split and write predictions (predict_results.json)."},
    )

    eval_strategy: str = field(
        default="epoch", metadata={"help": "When to score the training language's dev set."}
    )
    save_strategy: str = field(default="epoch", metadata={"help": "When to save checkpoints."})
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "Keep the checkpoint best on the training language's dev set."}
    )
    metric_for_best_model: str = field(
        default="score", metadata={"help": "The task's metric on the dev set."}
    )
    greater_is_better: bool = field(default=True, metadata={"help": "Higher scores are better."})
    # 1e-3 from the paired experiment (benchmarks/RESULTS.md): one rate of 5e-5 for everything cost 12.8 F1 on
    # PAN-X and 8.7 on UD-POS (3 seeds each): in a short run the head learns too slowly at the encoder's rate.
    head_learning_rate: float = field(
        default=1e-3,
        metadata={
            "help": "Learning rate of the newly initialised parts (fusion module, pooler, classifier); the "
            "encoder keeps --learning_rate. Give --learning_rate's value for one rate for everything "
            "(XTREME's recipe)."
        },
    )
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept on disk."})
    dataloader_pin_memory: bool = field(
        default=torch.cuda.is_available(), metadata={"help": "Pin host memory (only useful with a GPU)."}
    )

    def __post_init__(self):
        requested = (self.do_train, self.do_eval, self.do_predict)
        super().__post_init__()
        # transformers turns do_eval on whenever eval_strategy is set; here eval_strategy only drives the
        # selection on the training language's dev set, and do_eval is what the user asked for.
        self.do_train, self.do_eval, self.do_predict = requested
        self.default_job = not any(requested)

    @property
    def scored_splits(self) -> tuple[str, ...]:
        """The evaluated splits, the headline one (reported in full in results.json) first: test if predicting."""
        return tuple(
            split for split, wanted in (("test", self.do_predict), ("validation", self.do_eval)) if wanted
        )


@dataclass
class SweepArguments:
    """How a grid of (fusion setting, seed) runs is run: one after another here, or as Ray Tune trials."""

    seeds: str | None = field(
        default=None,
        metadata={
            "help": "Comma list of seeds ('1,2,3'): every fusion setting runs once per seed, each in "
            "<output_dir>/fusion_<x>/seed_<s>, and the sweep report gives mean ± std and paired differences. "
            "Replaces --seed."
        },
    )
    sweep_backend: str = field(
        default="local",
        metadata={
            "help": "'local': the runs one after another in this process; 'ray': each run a Ray Tune trial, "
            "as many at once as the resources allow (pip install 'modeling-dlfa[ray]').",
            "choices": SWEEP_BACKENDS,
        },
    )
    ray_address: str | None = field(
        default=None,
        metadata={
            "help": "Address of a running Ray cluster ('HEAD_IP:6379', 'auto'); default $RAY_ADDRESS, else "
            "Ray starts on this machine."
        },
    )
    trial_cpus: float = field(default=1, metadata={"help": "CPUs reserved for each Ray trial."})
    trial_gpus: float | None = field(
        default=None,
        metadata={
            "help": "GPUs reserved for each Ray trial (default: 1 where the Ray cluster has GPUs, else 0)."
        },
    )


ARGUMENT_CLASSES = (ModelArguments, DataArguments, GlueXTrainingArguments, SweepArguments)


def parse_arguments(
    argv: list[str],
) -> tuple[ModelArguments, DataArguments, GlueXTrainingArguments, SweepArguments]:
    """Flags, or a single .json file of them; unknown keys in the file are refused by name."""
    # No prefix matching: a misspelt flag must fail, not silently set another one.
    parser = HfArgumentParser(ARGUMENT_CLASSES, allow_abbrev=False)
    if len(argv) == 1 and argv[0].endswith(".json"):
        path = Path(argv[0])
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: cannot read the argument file: {error}") from error
        known = {item.name for cls in ARGUMENT_CLASSES for item in fields(cls) if item.init}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown argument(s) {', '.join(unknown)}; see run_glue_x.py --help")
        return parser.parse_dict(values)
    return parser.parse_args_into_dataclasses(args=argv)
