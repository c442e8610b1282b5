"""Public dataset loaders on fake folders built in each real layout from the real label tables."""

from __future__ import annotations

import csv
import shutil
import warnings

import pytest
from PIL import Image

from conftest import SHARED
from rankiqa.train.datasets import PUBLIC, load_dataset, load_public

LABELS = SHARED / "labels"


def _fake(name: str, tmp_path, n: int = 12):
    """A dataset folder with the first ``n`` rows of the real table and 8x8 images where they belong."""
    spec = PUBLIC[name]
    table = LABELS / spec.table
    if not table.is_file():
        pytest.skip(f"{table} not available")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    # take rows from several distortion types where the table is sorted by type
    rows = rows[:: max(1, len(rows) // n)][:n]
    root = tmp_path / name
    root.mkdir()
    with open(root / spec.table, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        path = root / spec.path(r)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(path)
    return root, rows


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_loader_reads_real_table_in_real_layout(name, tmp_path):
    root, rows = _fake(name, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset(f"{name}:{root}")
    assert len(ds.samples) == len(rows)
    assert all(s.path.is_file() for s in ds.samples)
    assert ds.higher_is_better == PUBLIC[name].higher_is_better
    assert all(isinstance(s.score, float) and s.ref and s.dist_type for s in ds.samples)


@pytest.mark.parametrize("name", ["tid2013", "csiq", "livemd"])
def test_missing_and_extra_files_are_named(name, tmp_path):
    root, rows = _fake(name, tmp_path)
    victim = root / PUBLIC[name].path(rows[3])
    extra = victim.with_name("not_in_labels.png")
    shutil.move(victim, extra)
    with pytest.raises(FileNotFoundError, match=victim.name):
        load_public(name, root)
    Image.new("RGB", (8, 8)).save(victim)
    with pytest.warns(UserWarning, match="not_in_labels.png"):
        load_public(name, root)


def test_types_and_directions(tmp_path):
    root, _ = _fake("tid2013", tmp_path, n=30)
    ds = load_public("tid2013", root)
    assert {s.dist_type for s in ds.samples} <= {str(i) for i in range(1, 25)} and ds.higher_is_better
    root, _ = _fake("live", tmp_path, n=20)
    ds = load_public("live", root)
    assert {s.dist_type for s in ds.samples} <= {"jp2k", "jpeg", "wn", "gblur", "fastfading"}
    assert not ds.higher_is_better


def test_own_label_files(tmp_path):
    root = tmp_path / "tid"
    (root / "distorted_images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "distorted_images" / "i01_01_1.bmp")
    Image.new("RGB", (8, 8)).save(root / "distorted_images" / "I02_03_4.bmp")
    (root / "mos_with_names.txt").write_text("5.51429 i01_01_1.bmp\n3.2 i02_03_4.bmp\n")
    ds = load_public("tid2013", root)
    assert [s.dist_type for s in ds.samples] == ["1", "3"] and ds.samples[1].path.name == "I02_03_4.bmp"
    kadid = tmp_path / "kadid"
    (kadid / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(kadid / "images" / "I01_01_01.png")
    (kadid / "dmos.csv").write_text("dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,4.57,0.496\n")
    assert load_public("kadid10k", kadid).samples[0].score == 4.57


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'tid2013'"):
        load_dataset("tid2031:/x")
    with pytest.raises(FileNotFoundError, match="no label table"):
        load_public("koniq10k", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_public("koniq10k", tmp_path / "nope")
    with pytest.raises(ValueError, match="is a folder; csv: takes the CSV file"):
        load_dataset(f"csv:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="no such CSV file"):
        load_dataset(f"csv:{tmp_path / 'scores.csv' / 'x'}")


def test_train_cli_names_a_misplaced_dataset_in_one_line(tmp_path, capsys):
    from rankiqa.train.__main__ import main

    (tmp_path / "file").write_text("")
    for spec in (f"csv:{tmp_path}", f"csv:{tmp_path / 'file' / 'x'}"):
        assert main(["calibrate", "--model", "default", "--dataset", spec]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err and str(tmp_path) in err


def _live_release2(tmp_path, realigned: bool):
    """A LIVE release 2 folder with its own .mat label files, built from the real toolbox table:
    the images the table lists are the distorted ones, every other index is a reference copy."""
    scipy_io = pytest.importorskip("scipy.io")
    import numpy as np

    from rankiqa.train.datasets import LIVE_FOLDERS

    table = LABELS / PUBLIC["live"].table
    if not table.is_file():
        pytest.skip(f"{table} not available")
    with open(table, newline="") as f:
        rows = {r["dist_name"]: r for r in csv.DictReader(f)}
    root = tmp_path / "databaserelease2"
    dmos, orgs, names = [], [], []
    for folder, n in LIVE_FOLDERS:
        (root / folder).mkdir(parents=True)
        for i in range(1, n + 1):
            row = rows.pop(f"{folder}/img{i}.bmp", None)
            dmos.append(float(row["mos"]) if row else 0.0)
            orgs.append(0 if row else 1)
            names.append(row["ref_name"].split("/")[-1] if row else "parrots.bmp")
            if row:
                Image.new("RGB", (4, 4)).save(root / folder / f"img{i}.bmp")
    assert not rows, f"table rows outside LIVE's numbering: {list(rows)[:3]}"
    cell = np.empty((1, len(names)), dtype=object)
    cell[0, :] = names
    scipy_io.savemat(root / "refnames_all.mat", {"refnames_all": cell})
    scipy_io.savemat(root / "dmos.mat", {"dmos": np.array([dmos]), "orgs": np.array([orgs])})
    if realigned:
        scipy_io.savemat(root / "dmos_realigned.mat", {"dmos_new": np.array([dmos]) + 100.0,
                                                       "orgs": np.array([orgs])})
    return root, dmos, orgs


@pytest.mark.parametrize("realigned", [True, False])
def test_live_own_mat_labels(tmp_path, realigned):
    root, dmos, orgs = _live_release2(tmp_path, realigned)
    ds = load_public("live", root)
    expected = [d + (100.0 if realigned else 0.0) for d, o in zip(dmos, orgs) if not o]
    assert [s.score for s in ds.samples] == pytest.approx(expected)
    assert ds.score_name == ("dmos_realigned" if realigned else "dmos") and not ds.higher_is_better
    first = ds.samples[0]
    assert first.path.relative_to(root).as_posix() == "jp2k/img2.bmp" and first.ref == "studentsculpture.bmp"
    assert first.dist_type == "jp2k" and len(ds.samples) == 779


def test_live_mat_labels_errors(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    import numpy as np

    root = tmp_path / "live"
    root.mkdir()
    cell = np.empty((1, 3), dtype=object)
    cell[0, :] = ["a.bmp", "b.bmp", "c.bmp"]
    scipy_io.savemat(root / "refnames_all.mat", {"refnames_all": cell})
    with pytest.raises(FileNotFoundError, match="dmos_realigned.mat"):
        load_public("live", root)
    scipy_io.savemat(root / "dmos.mat", {"dmos": np.zeros((1, 3)), "orgs": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="982"):
        load_public("live", root)
    scipy_io.savemat(root / "dmos.mat", {"wrong": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="not LIVE release 2 labels"):
        load_public("live", root)
