"""The `rankiqa` command: outputs, exit codes, partial failures, typos."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bad_inputs import write_corrupt_exif_jpeg, write_file_corpus
from rankiqa.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_corpus")
    return d, write_file_corpus(d)


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_folder_with_bad_files_json(corpus, tiny_ckpt, capsys):
    d, expected = corpus
    code, out, err = run(["score", d, d / "missing.jpg", "--model", tiny_ckpt, "--json", "--no-progress"], capsys)
    assert code == 1
    rows = {Path(r["path"]).name: r for r in json.loads(out)}
    for name, outcome in expected.items():
        if name == "folder.jpg":
            continue  # folders are not expanded as files
        row = rows[name]
        if outcome == "score":
            assert isinstance(row["score"], float), name
        else:
            assert row["score"] is None and outcome in row["error"], (name, row)
            assert name in err
    assert "inputs failed" in err


def test_metadata_fault_is_one_warning_line(tiny_ckpt, tmp_path, capsys):
    path = write_corrupt_exif_jpeg(tmp_path / "odd_exif.jpg")
    before = warnings.showwarning
    code, out, err = run(["score", path, "--model", tiny_ckpt, "--no-progress"], capsys)
    assert code == 0 and out.strip().endswith("odd_exif.jpg")  # scored
    assert f"warning: {path}: " in err and "ImageWarning" not in err
    assert warnings.showwarning is before  # the command's formatting does not outlive it


def test_csv_and_plain(tiny_ckpt, tmp_path, capsys):
    from PIL import Image

    from conftest import smooth_photo

    for i in range(3):
        Image.fromarray(smooth_photo(seed=i)).save(tmp_path / f"{i}.png")
    code, out, _ = run(["score", tmp_path, "--model", tiny_ckpt, "--csv", "--no-progress"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [Path(r["path"]).name for r in rows] == ["0.png", "1.png", "2.png"]
    code, plain, _ = run(["score", tmp_path / "0.png", "--model", tiny_ckpt, "--no-progress"], capsys)
    assert code == 0 and plain.strip().split("\t")[1].endswith("0.png")
    code, out, _ = run(["rank", tmp_path, "--model", tiny_ckpt, "--top", "2", "--json", "--no-progress"], capsys)
    ranked = json.loads(out)
    assert code == 0 and len(ranked) == 2 and ranked[0]["score"] >= ranked[1]["score"]
    assert ranked[0]["rank"] == 1


@pytest.mark.parametrize("argv, hint", [
    (["score", "x.jpg", "--protcol", "paper"], "'--protcol': did you mean '--protocol'?"),
    (["score", "x.jpg", "--crops=3", "--poling=mean"], "'--poling=mean': did you mean '--pooling'?"),
    (["score", "x.jpg", "--protocol", "papr"], "unknown protocol 'papr'; did you mean 'paper'?"),
    (["scroe", "x.jpg"], "unknown command 'scroe'; did you mean 'score'?"),
    (["map", "x.jpg", "--outptu", "y.png"], "required: -o/--output ('--outptu': did you mean '--output'?)"),
])
def test_typos_rejected_with_a_suggestion(argv, hint, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert hint in capsys.readouterr().err


def test_unknown_option_without_a_near_name_gets_no_hint(capsys):
    with pytest.raises(SystemExit):
        main(["score", "x.jpg", "--zzz"])
    err = capsys.readouterr().err
    assert "unrecognized arguments: --zzz" in err and "did you mean" not in err


def test_unknown_model(corpus, capsys):
    d, _ = corpus
    code, _, err = run(["score", d / "good.jpg", "--model", "defualt"], capsys)
    assert code == 2 and "did you mean 'default'" in err


def test_models_and_download(capsys):
    code, out, _ = run(["models", "--json"], capsys)
    assert code == 0 and "checkpoints" in json.loads(out)
    code, listed, _ = run(["list", "--json"], capsys)  # the API's word, list_models(), works too
    assert code == 0 and json.loads(listed) == json.loads(out)
    code, _, err = run(["download", "nope.tag"], capsys)
    assert code == 2 and "unknown checkpoint" in err


def test_console_entry_point_runs(tiny_ckpt, corpus):
    d, _ = corpus
    res = subprocess.run([sys.executable, "-m", "rankiqa", "score", str(d / "good.jpg"), "--model", str(tiny_ckpt),
                          "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["score"] is not None
