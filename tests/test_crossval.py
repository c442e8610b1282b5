"""The repeated-split protocol: methods, seeds, summary statistics, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rankiqa.train.__main__ import main
from rankiqa.train.crossval import METHODS, cross_validate, summarise, summary_table
from rankiqa.train.datasets import Dataset, load_dataset
from rankiqa.train.evaluation import evaluate_dataset, score_dataset
from rankiqa.train.finetune import reference_split

SMALL = dict(epochs=1, crop_size=32)


def test_all_three_methods_over_seeded_splits(rated, tiny_ckpt):
    result = cross_validate(f"csv:{rated}", str(tiny_ckpt), splits=3, **SMALL)
    assert [list(r) for r in result["splits"]] == [list(METHODS)] * 3
    assert set(result["summary"]) == set(METHODS)
    # rank-only is the checkpoint itself, scored on the test references of each split seed
    data = load_dataset(f"csv:{rated}")
    for seed, split in enumerate(result["splits"]):
        test = [data.samples[i] for i in reference_split(data.samples, seed)[1]]
        sub = Dataset(data.name, test, data.higher_is_better, data.score_name)
        direct = evaluate_dataset(score_dataset(tiny_ckpt, sub, progress=False), sub)
        assert split["rank-only"]["all"]["srocc"] == pytest.approx(direct["all"]["srocc"])
        assert split["rank-only"]["all"]["n"] == len(test)
    # the seeds hold out different references
    assert len({tuple(reference_split(data.samples, seed)[1]) for seed in range(3)}) > 1


def test_baseline_alone_and_options(rated, tiny_ckpt):
    kw = dict(splits=2, arch="vgg16_slim", arch_kwargs={"width": 0.05, "hidden": 8}, **SMALL)
    only = cross_validate(f"csv:{rated}", None, **kw)
    assert list(only["summary"]) == [METHODS[0]]
    parallel = cross_validate(f"csv:{rated}", None, jobs=2, **kw)
    assert parallel["splits"] == only["splits"]  # same seeds, same numbers, whichever process ran them
    no_base = cross_validate(f"csv:{rated}", str(tiny_ckpt), splits=1, baseline=False, **SMALL)
    assert list(no_base["summary"]) == list(METHODS[1:])


def _report(srocc_all: float, srocc_t: float) -> dict:
    m = dict(srocc=srocc_all, krcc=0.0, plcc=0.0, plcc_logistic=0.0, rmse_logistic=0.0)
    return {"per_type": {"t": dict(m, srocc=srocc_t)}, "all": m}


def test_summary_statistics():
    values = [0.5, 0.9, 0.7, 0.6]
    results = [{"m": _report(v, 1 - v)} for v in values]
    s = summarise(results)
    assert s["m"]["all"]["srocc"]["median"] == pytest.approx(np.median(values))
    assert s["m"]["all"]["srocc"]["mean"] == pytest.approx(0.675)
    assert s["m"]["all"]["srocc"]["std"] == pytest.approx(np.std(values))
    assert (s["m"]["t"]["srocc"]["min"], s["m"]["t"]["srocc"]["max"]) == pytest.approx((0.1, 0.5))
    table = summary_table(s, "srocc")
    assert table.splitlines()[0] == "| method | T | ALL |" and "| m | 0.350 | 0.650 |" in table
    assert "0.675 ± 0.148" in summary_table(s, "srocc", "mean")


def test_errors(rated, tmp_path):
    with pytest.raises(ValueError, match="init .* or arch"):
        cross_validate(f"csv:{rated}", None, splits=1)
    with pytest.raises(ValueError, match="splits"):
        cross_validate(f"csv:{rated}", "x", splits=0)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        cross_validate(f"csv:{tmp_path / 'nope.csv'}", "x", splits=1)


def test_cli_writes_tables_and_json(rated, tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "cv.json"
    rc = main(["crossval", "--init", str(tiny_ckpt), "--dataset", f"csv:{rated}", "--splits", "1",
               "--epochs", "1", "--crop", "32", "--no-baseline", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr()
    assert "| rank+FT |" in printed.out and "split 1/1" in printed.err
    report = json.loads(out.read_text())
    assert report["settings"]["splits"] == 1 and len(report["splits"]) == 1


def test_every_method_scored_with_one_pooling(rated, tiny_ckpt, monkeypatch):
    import rankiqa.train.evaluation as evaluation

    seen = []
    real = evaluation.score_dataset

    def spy(model, dataset, protocol=None, device=None, progress=True, pooling=None):
        seen.append(pooling)
        return real(model, dataset, protocol, device, progress, pooling)

    monkeypatch.setattr(evaluation, "score_dataset", spy)
    cross_validate(f"csv:{rated}", str(tiny_ckpt), splits=1, baseline=False, **SMALL)
    assert seen == ["mean", "mean"]  # a checkpoint file states none: the paper's, for rank-only and rank+FT alike
    seen.clear()
    cross_validate(f"csv:{rated}", str(tiny_ckpt), splits=1, pooling="activity", **SMALL)
    assert seen == ["activity"] * 3
