"""The cross-lingual tasks' scores as an `evaluate` module, loaded from this file offline:

    import evaluate
    from modeling_dlfa.metrics import SCORES_MODULE

    span_f1 = evaluate.load(SCORES_MODULE, config_name="span_f1", keep_in_memory=True)
    span_f1.compute(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])  # {'span_f1': 1.0}

Configurations: `accuracy` (one class id per example), and for tagging (one list of label names per sentence)
`token_accuracy`, `span_f1`, `span_precision`, `span_recall`. The span scores are seqeval's default
(conlleval-like) mode, the call XTREME's evaluate.py makes for both NER and POS (the paper's "POS F1": a run of
equal UPOS tags is one span). Scores are fractions. With `entity_level=True` a span configuration also returns
each entity type's precision, recall, F1 and count, named as run_ner.py names them (`PER_f1`, `PER_number`).

evaluate copies this file out of the package to import it, so it imports only evaluate, datasets, numpy and
seqeval.
"""

import warnings

import datasets
import evaluate
import numpy as np
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

_SPAN_SCORES = {"span_f1": f1_score, "span_precision": precision_score, "span_recall": recall_score}
CONFIGURATIONS = ("accuracy", "token_accuracy", *_SPAN_SCORES)

_CITATION = """\
@inproceedings{hu2020xtreme,
  title={{XTREME}: A Massively Multilingual Multi-task Benchmark for Evaluating Cross-lingual Generalisation},
  author={Hu, Junjie and Ruder, Sebastian and Siddhant, Aditya and Neubig, Graham and Firat, Orhan and Johnson, Melvin},
  booktitle={ICML},
  year={2020}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: `accuracy`: class ids, one per example; the others: label names, one list per sentence.
    references: the gold labels, in the same form.
    entity_level: span configurations only; also score each entity type.
Returns:
    {config_name: fraction}, plus `<TYPE>_precision/_recall/_f1/_number` with entity_level.
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class XtremeScores(evaluate.Metric):
    def _info(self):
        if self.config_name not in CONFIGURATIONS:
            raise ValueError(f"unknown metric {self.config_name!r}; allowed: {', '.join(CONFIGURATIONS)}")
        if self.config_name == "accuracy":
            label = datasets.Value("int64")
        else:
            label = datasets.Sequence(datasets.Value("string"))
        return evaluate.MetricInfo(
            description=__doc__,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": label, "references": label}),
            reference_urls=["https://github.com/google-research/xtreme/blob/master/third_party/evaluate.py"],
        )

    def _compute(self, predictions, references, entity_level=False):
        if self.config_name in ("accuracy", "token_accuracy"):
            if self.config_name == "token_accuracy":
                predictions = [tag for tags in predictions for tag in tags]
                references = [tag for tags in references for tag in tags]
            return {self.config_name: float(np.mean(np.asarray(predictions) == np.asarray(references)))}
        references, predictions = [list(tags) for tags in references], [list(tags) for tags in predictions]
        with warnings.catch_warnings():
            # seqeval warns on every UPOS tag ("not a NE tag"), on F1 with no spans and on types with no gold
            # or no predicted span; all are expected here.
            warnings.simplefilter("ignore")
            scores = {self.config_name: float(_SPAN_SCORES[self.config_name](references, predictions))}
            if entity_level:
                scores.update(
                    _entity_scores(classification_report(references, predictions, output_dict=True))
                )
        return scores


def _entity_scores(report: dict) -> dict:
    names = {"precision": "precision", "recall": "recall", "f1-score": "f1"}
    scores = {}
    for entity, values in report.items():
        if entity.endswith(" avg"):  # micro/macro/weighted averages: the headline score already says it
            continue
        scores.update({f"{entity}_{names[key]}": float(values[key]) for key in names})
        scores[f"{entity}_number"] = int(values["support"])
    return scores
