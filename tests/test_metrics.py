import warnings

import numpy as np
import pytest

from modeling_dlfa.metrics import compute_metrics, compute_score, macro_average


def test_accuracy():
    assert compute_score("xnli", [0, 1, 2, 1], [0, 1, 1, 1]) == 75.0
    assert compute_score("pawsx", np.array([1, 0, 0]), np.array([1, 1, 0])) == pytest.approx(200 / 3)


def test_accuracy_rejects_logits():
    with pytest.raises(ValueError, match="one class id per example"):
        compute_score("xnli", np.zeros((2, 3)), [0, 1])


def test_span_f1_by_hand():
    references = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    # PER is cut short (a partial match counts as wrong), LOC and ORG are right:
    # 2 of 3 predicted spans correct, 2 of 3 gold spans found -> P = R = F1 = 2/3.
    predictions = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]
    assert compute_score("panx", predictions, references) == pytest.approx(200 / 3)
    # One extra, wrong span: P = 3/4, R = 3/3 -> F1 = 2PR/(P+R) = 6/7.
    predictions = [["B-PER", "I-PER", "B-LOC", "B-LOC"], ["B-ORG", "O"]]
    assert compute_score("panx", predictions, references) == pytest.approx(600 / 7)
    # A wrong type on the right words is wrong too.
    predictions = [["B-ORG", "I-ORG", "O", "B-LOC"], ["B-ORG", "O"]]
    assert compute_score("panx", predictions, references) == pytest.approx(200 / 3)


def test_span_f1_default_mode_starts_spans_at_i_tags():
    # seqeval's default (conlleval) mode, as XTREME calls it: I-PER after O opens a PER span.
    assert compute_score("panx", [["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]) == 100.0


def test_span_f1_no_spans_is_zero():
    assert compute_score("panx", [["O", "O"]], [["O", "O"]]) == 0.0


def test_udpos_span_f1_merges_runs_of_a_tag():
    # XTREME's POS "F1" is seqeval over raw UPOS tags: a run of equal tags is one span, so
    # NOUN NOUN VERB has 2 spans, NOUN VERB VERB has 2 other spans, F1 = 0 at 2/3 token accuracy.
    predictions, references = [["NOUN", "VERB", "VERB"]], [["NOUN", "NOUN", "VERB"]]
    assert compute_score("udpos", predictions, references, metric="token_accuracy") == pytest.approx(200 / 3)
    # The task's metric is XTREME's and the paper's POS F1, not token accuracy.
    assert compute_score("udpos", predictions, references) == 0.0
    assert compute_score("udpos", [["DET", "NOUN", "PUNCT"]], [["DET", "NOUN", "PUNCT"]]) == 100.0


def test_token_accuracy():
    predictions = [["B-PER", "O"], ["O", "B-LOC", "O"]]
    references = [["B-PER", "I-PER"], ["O", "B-LOC", "O"]]
    assert compute_score("panx", predictions, references, metric="token_accuracy") == 80.0


def test_no_warnings_escape():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_score("udpos", [["NOUN", "ADJ"]], [["NOUN", "ADP"]])
        compute_score("panx", [["O"]], [["O"]])


@pytest.mark.parametrize(
    ("task", "predictions", "references", "message"),
    [
        ("xnli", [0, 1], [0], "2 predictions but 1 references"),
        ("xnli", [], [], "nothing to score"),
        ("panx", [["O"]], [["O"], ["O"]], "1 predictions but 2 references"),
        ("panx", [["O", "O"]], [["O"]], "sentence 0: 2 predicted tags but 1 gold tags"),
        ("panx", [], [], "nothing to score"),
    ],
)
def test_mismatched_inputs(task, predictions, references, message):
    with pytest.raises(ValueError, match=message):
        compute_score(task, predictions, references)


def test_metric_must_fit_the_task():
    with pytest.raises(ValueError, match="metric accuracy does not apply to token task panx"):
        compute_score("panx", [["O"]], [["O"]], metric="accuracy")
    with pytest.raises(ValueError, match="metric span_f1 does not apply to sequence task xnli"):
        compute_score("xnli", [0], [0], metric="span_f1")
    with pytest.raises(
        ValueError, match="unknown metric 'f1'; allowed: accuracy, span_f1, span_precision, span_recall"
    ):
        compute_score("xnli", [0], [0], metric="f1")


def test_macro_average():
    assert macro_average({"en": 80.0, "de": 70.0, "fr": 61.0}) == pytest.approx(211 / 3)
    assert macro_average({"en": 65.4}) == 65.4
    with pytest.raises(ValueError, match="no scores"):
        macro_average({})


def test_averages_come_from_unrounded_scores():
    # Rounding each score first made averages off by up to 0.01.
    scores = {"de": 100 / 3 + 0.004, "fr": 100 / 3 + 0.004, "en": 100 / 3 + 0.004}
    assert macro_average(scores) == pytest.approx(100 / 3 + 0.004, abs=1e-12)
    assert compute_score("xnli", [0, 1, 1], [0, 0, 0]) == pytest.approx(100 / 3, abs=1e-12)


def test_every_metric_a_task_reports():
    references = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predictions = [["B-PER", "I-PER", "B-LOC", "B-LOC"], ["B-ORG", "O"]]
    panx = compute_metrics("panx", predictions, references)
    assert list(panx) == ["span_f1", "span_precision", "span_recall"]
    assert panx["span_precision"] == pytest.approx(75.0) and panx["span_recall"] == pytest.approx(100.0)
    assert panx["span_f1"] == pytest.approx(600 / 7)
    udpos = compute_metrics("udpos", [["NOUN", "VERB", "VERB"]], [["NOUN", "NOUN", "VERB"]])
    assert udpos == {"span_f1": 0.0, "token_accuracy": pytest.approx(200 / 3)}
    assert compute_metrics("xnli", [0, 1], [0, 0]) == {"accuracy": 50.0}


def test_the_scores_are_an_evaluate_module_users_load_offline(monkeypatch):
    """metrics.py computes through the package's evaluate module; users load the same file with evaluate."""
    import evaluate

    from modeling_dlfa.metrics import SCORES_MODULE

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    span_f1 = evaluate.load(SCORES_MODULE, config_name="span_f1", keep_in_memory=True)
    references = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predictions = [["B-PER", "I-PER", "B-LOC", "B-LOC"], ["B-ORG", "O"]]
    scores = span_f1.compute(predictions=predictions, references=references, entity_level=True)
    assert scores["span_f1"] == pytest.approx(6 / 7)
    assert scores["LOC_precision"] == 0.5 and scores["LOC_number"] == 1 and scores["PER_f1"] == 1.0
    with_entities = compute_metrics("panx", predictions, references, entity_level=True)
    assert with_entities["LOC_precision"] == 50.0 and with_entities["LOC_number"] == 1
    assert list(with_entities)[:3] == ["span_f1", "span_precision", "span_recall"]
    accuracy = evaluate.load(SCORES_MODULE, config_name="accuracy", keep_in_memory=True)
    assert accuracy.compute(predictions=[0, 1, 2], references=[0, 1, 1]) == {"accuracy": pytest.approx(2 / 3)}
    with pytest.raises(ValueError, match="unknown metric 'f1'; allowed: accuracy, token_accuracy"):
        evaluate.load(SCORES_MODULE, config_name="f1")
