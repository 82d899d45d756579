"""The tasks: XTREME's four built in (XNLI, PAWS-X, PAN-X, UD POS), those task files define (registered by
task_files.py), finding one by name, and checking a run's language codes against it.

What a task is, and what differs between its kinds: task_kinds.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from .task_kinds import SequenceTask, Task, TokenTask

# The language sets of the XTREME benchmark (Hu et al. 2020), which the paper reports on.
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
PANX_LANGUAGES = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu", "id",
    "it", "ja", "jv", "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru", "sw", "ta", "te", "th",
    "tl", "tr", "ur", "vi", "yo", "zh",
)  # fmt: skip

# google/xtreme names its UD POS configs "udpos.<English name>"; these are its 33 (XTREME's POS set).
UDPOS_HUB_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}  # fmt: skip
UDPOS_LANGUAGES = tuple(sorted(UDPOS_HUB_NAMES))

UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
    "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip

TASKS: dict[str, Task] = {
    "xnli": SequenceTask(
        name="xnli",
        labels=("entailment", "neutral", "contradiction"),
        languages=XNLI_LANGUAGES,
        metric="accuracy",
        metric_display="accuracy",
        hub_repo="facebook/xnli",
        hub_text_columns=("premise", "hypothesis"),
        hub_label_column="label",
        parallel=True,
    ),
    "pawsx": SequenceTask(
        name="pawsx",
        labels=("0", "1"),
        languages=PAWSX_LANGUAGES,
        metric="accuracy",
        metric_display="accuracy",
        hub_repo="google-research-datasets/paws-x",
        hub_text_columns=("sentence1", "sentence2"),
        hub_label_column="label",
        parallel=True,
    ),
    "panx": TokenTask(
        name="panx",
        labels=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
        languages=PANX_LANGUAGES,
        metric="span_f1",
        metric_display="F1 (entity-level, seqeval)",
        extra_metrics=("span_precision", "span_recall"),
        aliases=("wikiann",),
        hub_repo="unimelb-nlp/wikiann",
        hub_text_columns=("tokens",),
        hub_label_column="ner_tags",
    ),
    # Scored as XTREME's evaluate.py and the paper ("POS F1") do: seqeval's span F1, where a run of one tag is
    # one "span" (XLM-R large: 74.2 F1 vs 78.2 token accuracy on the same predictions, xtreme issue 56).
    # Token accuracy, the usual POS measure, is reported beside it.
    "udpos": TokenTask(
        name="udpos",
        labels=UPOS_TAGS,
        languages=UDPOS_LANGUAGES,
        metric="span_f1",
        metric_display="F1 (seqeval, as XTREME scores POS)",
        extra_metrics=("token_accuracy",),
        hub_repo="google/xtreme",
        hub_text_columns=("tokens",),
        hub_label_column="pos_tags",
        conllu=True,
        hub_configs=tuple((code, f"udpos.{name}") for code, name in sorted(UDPOS_HUB_NAMES.items())),
        # Their treebanks have no dev set (UD 2.5, as XTREME ships it).
        hub_language_splits=(
            ("kk", ("train", "test")),
            ("th", ("test",)),
            ("tl", ("test",)),
            ("yo", ("test",)),
        ),
    ),
}

# Tasks read from task files (modeling_dlfa/task_files.py) in this process, found by name like the built-ins.
_DEFINED: dict[str, Task] = {}


def _normal_name(name: str) -> str:
    # "PAWS-X", "pan_x" and "UD-POS" are common spellings of the same tasks.
    return name.strip().lower().replace("-", "").replace("_", "")


def register_task(task: Task) -> Task:
    """Make a task defined outside the package (a task file) known to `get_task` by its name."""
    if _normal_name(task.name) in (_normal_name(name) for name in TASKS):
        raise ValueError(f"task {task.name!r} would hide the built-in task of that name: choose another name")
    _DEFINED[task.name] = task
    return task


def get_task(name: str | Task) -> Task:
    """The task called `name` (case-insensitive; aliases such as "wikiann" accepted)."""
    if isinstance(name, Task):
        return name
    key = _normal_name(name)
    for task in [*TASKS.values(), *_DEFINED.values()]:
        if key == _normal_name(task.name) or key in (_normal_name(alias) for alias in task.aliases):
            return task
    aliases = [f"{alias} (= {task.name})" for task in TASKS.values() for alias in task.aliases]
    raise ValueError(
        f"unknown task {name!r}; allowed: {', '.join([*TASKS, *aliases, *_DEFINED])}, or a task file "
        "(--task_file)"
    )


def check_languages(
    task: str | Task, languages: str | Iterable[str], available: Iterable[str] | None = None
) -> list[str]:
    """Validate language codes (a list, or one comma-separated string); returns them cleaned, in order.

    The allowed codes are `available` (e.g. the languages present in a data folder, which may go
    beyond XTREME's list) when given, else the task's XTREME languages.
    """
    task = get_task(task)
    if isinstance(languages, str):
        languages = languages.split(",")
    codes = list(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
    allowed = sorted(available) if available is not None else sorted(task.languages)
    if not codes:
        raise ValueError(f"task {task.name}: no language codes given; allowed: {', '.join(allowed)}")
    unknown = [code for code in codes if code not in allowed]
    if unknown:
        raise ValueError(
            f"task {task.name}: unknown language code(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    return codes
