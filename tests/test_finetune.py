"""Fine-tuning: reference-disjoint splits, a short run, exact resume, DMOS direction."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file

from rankiqa.api import load_model
from rankiqa.train.datasets import Sample
from rankiqa.train.finetune import FinetuneConfig, finetune, reference_split
from rankiqa.train.config import STATE_FILE


def test_reference_split_is_disjoint_and_seeded():
    samples = [Sample(None, 0.0, f"ref{i % 7}", "t") for i in range(70)]
    for seed in range(10):
        train, test = reference_split(samples, seed)
        assert not {samples[i].ref for i in train} & {samples[i].ref for i in test}
        assert len(train) + len(test) == 70 and {samples[i].ref for i in train}.__len__() == 6
        assert reference_split(samples, seed) == (train, test)
    assert reference_split(samples, 0) != reference_split(samples, 1)


def _cfg(rated, out, **kw):
    base = dict(dataset=f"csv:{rated}", out=str(out), arch="vgg16_slim", arch_kwargs={"width": 0.05, "hidden": 8},
                crop_size=32, epochs=4, batch_size=4, lr=0.01, checkpoint_every=3, progress=False)
    base.update(kw)
    return FinetuneConfig(**base)


def test_finetune_runs_resumes_and_predicts_dmos(rated, tmp_path, tiny_ckpt):
    full = finetune(_cfg(rated, tmp_path / "a", init=str(tiny_ckpt)))
    # A run stopped after 2 of the 4 epochs (its state at iteration 8), then resumed to 4 epochs.
    finetune(_cfg(rated, tmp_path / "b", init=str(tiny_ckpt), epochs=2))
    resumed = finetune(_cfg(rated, tmp_path / "b", init=str(tiny_ckpt)), resume=True)
    a, b = load_file(str(full)), load_file(str(resumed))
    assert all((a[k] == b[k]).all() for k in a)
    scorer = load_model(full, device="cpu")
    assert scorer.card["higher_is_better"] is False and scorer.card["score_range"] == [10.0, 73.0]
    assert (tmp_path / "b" / STATE_FILE).exists()


def test_baseline_from_random_init(rated, tmp_path):
    path = finetune(_cfg(rated, tmp_path / "base", split="train", epochs=1))
    assert load_model(path, device="cpu").card["training"]["init"] is None


def test_config_errors(rated, tmp_path):
    with pytest.raises(ValueError, match="split"):
        _cfg(rated, tmp_path, split="test")
    with pytest.raises(ValueError, match="epochs"):
        _cfg(rated, tmp_path, epochs=0)
