"""results.json and sweep.json as typed objects: reading (with errors that name the file), the layout they
write, the means over seeds and the selection rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeling_dlfa.results import DataOrigin, RunResults, SplitScores, label_for_setting
from modeling_dlfa.sweep_results import SeedRun, SweepResults, mean_results, select_setting

from .test_report import make_results, make_sweep, sweep_settings


def test_label_for_setting() -> None:
    assert label_for_setting(None) == "baseline"
    assert label_for_setting(6) == "D6"


def test_select_setting_uses_dev_score_not_target_average() -> None:
    settings = make_sweep(sweep_settings(), selected=6)["settings"]
    assert max(settings, key=lambda s: s["results"]["average"])["fusion_layer"] == 9
    assert (
        select_setting(SweepResults.from_dict(make_sweep(sweep_settings(), selected=6)).settings).fusion_layer
        == 6
    )


def test_select_setting_ties_go_to_the_earlier_setting() -> None:
    results = [make_results(fusion_layer=layer, train_dev_score=80.0) for layer in (None, 3, 6)]
    assert select_setting(SweepResults.from_dict(make_sweep(results, None)).settings).fusion_layer is None


def test_select_setting_requires_dev_scores() -> None:
    results = [make_results(fusion_layer=None), make_results(fusion_layer=4, train_dev_score=None)]
    with pytest.raises(ValueError, match="D4 has no train_dev_score"):
        select_setting(SweepResults.from_dict(make_sweep(results, None)).settings)


def test_results_keep_their_keys_and_order() -> None:
    data = make_results() | {"date": "2026-12-02T00:00:00+00:00", "runtime": {"train_seconds": 1.0}}
    written = RunResults.from_dict(data).to_dict()
    # Keys older versions did not write come back with their defaults, each in its place.
    assert {key: written[key] for key in data} == data
    assert [key for key in written if key in data] == [
        key for key in RunResults.__dataclass_fields__ if key in data
    ]
    assert "seeds" not in written and "selected_from_sweep" not in written
    assert "data_origins" not in written  # older files lack it, and it is not written as null


def test_data_origins_are_typed_and_written_back_as_read() -> None:
    origins = {
        "train": {"source": "file", "path": "data/dev-en.tsv"},
        "dev": {"source": "file", "path": "data/dev-en.tsv", "heldout": 500},
        "de": {
            "source": "hub",
            "repo": "facebook/xnli",
            "config": "de",
            "split": "validation",
            "language": "de",
        },
    }
    data = make_results() | {"data_origins": origins}
    results = RunResults.from_dict(data)
    assert results.data_origins["dev"] == DataOrigin(source="file", path="data/dev-en.tsv", heldout=500)
    assert results.to_dict()["data_origins"] == origins
    with pytest.raises(ValueError, match=r"results, data_origins\[de\] has unknown keys revision"):
        RunResults.from_dict(data | {"data_origins": {"de": {**origins["de"], "revision": "main"}}})
    with pytest.raises(ValueError, match="source 'ftp' is not one of file, hub"):
        RunResults.from_dict(data | {"data_origins": {"de": {"source": "ftp"}}})


def test_other_splits_are_typed_and_written_back_as_read() -> None:
    validation = {
        "languages": {"en": 80.0, "de": 70.0},
        "average": 75.0,
        "groups": {"enf": 75.0},
        "metrics": {"en": {"accuracy": 80.0}, "de": {"accuracy": 70.0}},
        "num_examples": {"en": 5, "de": 5},
        "skipped_languages": {},
        "data_sources": {"en": "data/dev-en.tsv", "de": "data/dev-de.tsv"},
    }
    data = make_results() | {"other_splits": {"validation": validation}}
    results = RunResults.from_dict(data)
    assert isinstance(results.other_splits["validation"], SplitScores)
    assert results.other_splits["validation"].languages == {"en": 80.0, "de": 70.0}
    assert json.dumps(results.to_dict()["other_splits"]) == json.dumps(data["other_splits"])  # keys in order
    without_average = {key: value for key, value in validation.items() if key != "average"}
    with pytest.raises(ValueError, match=r"results, other_splits\[validation\] lacks average"):
        RunResults.from_dict(data | {"other_splits": {"validation": without_average}})
    with pytest.raises(ValueError, match="results: other_splits is not a JSON object"):
        RunResults.from_dict(data | {"other_splits": ["validation"]})


def test_the_mean_over_seeds_has_seeds_and_no_date_or_runtime() -> None:
    runs = [
        SeedRun(
            seed, f"seed_{seed}", RunResults.from_dict(make_results(languages) | {"seed": seed, "date": "d"})
        )
        for seed, languages in ((1, {"en": 80.0, "zh": 70.0}), (2, {"en": 82.0, "zh": 60.0}))
    ]
    mean = mean_results(runs).to_dict()
    assert mean["languages"] == {"en": 81.0, "zh": 65.0} and mean["seed"] is None
    assert list(mean)[-1] == "seeds" and mean["seeds"] == [1, 2]
    assert "date" not in mean and "runtime" not in mean


def test_a_sweep_of_one_seed_per_setting_as_older_versions_wrote_it_loads(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text(json.dumps(make_sweep(sweep_settings(), selected=6)))
    sweep = SweepResults.read(tmp_path)
    assert sweep.selected.fusion_layer == 6 and sweep.seeds == [42]
    assert [len(setting.runs) for setting in sweep.settings] == [1, 1, 1]
    assert sweep.settings[1].difference.average.mean == pytest.approx(-0.33, abs=0.01)


def test_reading_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    with pytest.raises(FileNotFoundError, match=f"{path}: no such file"):
        RunResults.read(tmp_path)
    path.write_text('{"task": "xnli", "languages": {"de": 5')
    with pytest.raises(ValueError, match=f"{path} is damaged, not JSON"):
        RunResults.read(tmp_path)
    path.write_text(json.dumps({key: value for key, value in make_results().items() if key != "groups"}))
    with pytest.raises(ValueError, match=f"{path} lacks groups: an older layout"):
        RunResults.read(tmp_path)
    path.write_text(json.dumps(make_results() | {"score": 1.0}))
    with pytest.raises(ValueError, match=f"{path} has unknown keys score"):
        RunResults.read(tmp_path)
    sweep = make_sweep(sweep_settings(), selected=6)
    del sweep["settings"][1]["results"]["languages"]
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    with pytest.raises(ValueError, match=r"sweep.json, settings\[1\], results lacks languages"):
        SweepResults.read(tmp_path)
