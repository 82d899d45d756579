"""The four XTREME tasks the DLFA paper evaluates, as data: labels, languages, metric and Hub source."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SEQUENCE = "sequence"
TOKEN = "token"
METRICS = ("accuracy", "span_f1", "token_accuracy")
EXTRA_METRICS = ("span_precision", "span_recall", "token_accuracy")
HUB_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    metric: str
    metric_display: str
    aliases: tuple[str, ...] = ()
    hub_repo: str = ""
    # Sequence tasks: the two text columns; token tasks: the tokens column.
    hub_text_columns: tuple[str, ...] = ()
    hub_label_column: str = ""
    # (language, config) pairs where the Hub config is not the language code itself.
    hub_configs: tuple[tuple[str, str], ...] = ()
    hub_splits: tuple[str, ...] = HUB_SPLITS
    # Reported beside the headline metric, per language.
    extra_metrics: tuple[str, ...] = ()
    # (language, its Hub splits) for the languages that lack some of `hub_splits`.
    hub_language_splits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Row i of every language's dev (and test) file is the same item, translated: training on part of
    # one language's dev file puts the same rows of every other language off limits.
    parallel: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (SEQUENCE, TOKEN):
            raise ValueError(f"task {self.name}: kind {self.kind!r} is not one of {SEQUENCE}, {TOKEN}")
        if self.metric not in METRICS:
            raise ValueError(f"task {self.name}: metric {self.metric!r} is not one of {', '.join(METRICS)}")
        unknown = [metric for metric in self.extra_metrics if metric not in EXTRA_METRICS]
        if unknown:
            raise ValueError(
                f"task {self.name}: extra metric(s) {', '.join(unknown)} not among {', '.join(EXTRA_METRICS)}"
            )

    @property
    def label2id(self) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def hub_config(self, language: str) -> str:
        """The `load_dataset` config name holding `language`."""
        if not self.hub_configs:
            return language
        configs = dict(self.hub_configs)
        if language not in configs:
            raise ValueError(
                f"task {self.name}: {self.hub_repo} has no config for language {language!r}; "
                f"allowed: {', '.join(sorted(configs))}"
            )
        return configs[language]

    def hub_splits_of(self, language: str) -> tuple[str, ...]:
        """The splits the task's Hub dataset has for `language`."""
        return dict(self.hub_language_splits).get(language, self.hub_splits)


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
    "xnli": Task(
        name="xnli",
        kind=SEQUENCE,
        labels=("entailment", "neutral", "contradiction"),
        languages=XNLI_LANGUAGES,
        metric="accuracy",
        metric_display="accuracy",
        hub_repo="facebook/xnli",
        hub_text_columns=("premise", "hypothesis"),
        hub_label_column="label",
        parallel=True,
    ),
    "pawsx": Task(
        name="pawsx",
        kind=SEQUENCE,
        labels=("0", "1"),
        languages=PAWSX_LANGUAGES,
        metric="accuracy",
        metric_display="accuracy",
        hub_repo="google-research-datasets/paws-x",
        hub_text_columns=("sentence1", "sentence2"),
        hub_label_column="label",
        parallel=True,
    ),
    "panx": Task(
        name="panx",
        kind=TOKEN,
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
    "udpos": Task(
        name="udpos",
        kind=TOKEN,
        labels=UPOS_TAGS,
        languages=UDPOS_LANGUAGES,
        metric="span_f1",
        metric_display="F1 (seqeval, as XTREME scores POS)",
        extra_metrics=("token_accuracy",),
        hub_repo="google/xtreme",
        hub_text_columns=("tokens",),
        hub_label_column="pos_tags",
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

LANGUAGE_GROUPS = {"enf": ("en", "de")}


def _normal_name(name: str) -> str:
    # "PAWS-X", "pan_x" and "UD-POS" are common spellings of the same tasks.
    return name.strip().lower().replace("-", "").replace("_", "")


def get_task(name: str | Task) -> Task:
    """The task called `name` (case-insensitive; aliases such as "wikiann" accepted)."""
    if isinstance(name, Task):
        return name
    key = _normal_name(name)
    for task in TASKS.values():
        if key == task.name or key in (_normal_name(alias) for alias in task.aliases):
            return task
    aliases = [f"{alias} (= {task.name})" for task in TASKS.values() for alias in task.aliases]
    raise ValueError(f"unknown task {name!r}; allowed: {', '.join([*TASKS, *aliases])}")


def language_groups(languages: Iterable[str]) -> dict[str, list[str]]:
    """Split `languages` into the paper's enf (English family) and noenf groups; empty groups left out."""
    languages = list(languages)
    enf = LANGUAGE_GROUPS["enf"]
    groups = {
        "enf": [code for code in languages if code in enf],
        "noenf": [code for code in languages if code not in enf],
    }
    return {group: codes for group, codes in groups.items() if codes}


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
