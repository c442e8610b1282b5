"""Human-rated IQA datasets as lists of :class:`Sample` (path, score, reference, type).

Every loader records the direction of its scores (``higher_is_better``):
MOS is higher = better, DMOS lower = better.

Public datasets are read in the folder layout they are distributed in, with
their label table: the dataset's own files where we read their format (LIVE's
``dmos_realigned.mat``/``dmos.mat`` + ``refnames_all.mat``, TID's
``mos_with_names.txt``, KADID's ``dmos.csv``), or the ``meta_info_*.csv``
table of the popular IQA toolbox that repackages all of them (put it in the
dataset folder, or pass ``labels=``). CSIQ's own ``csiq.DMOS.xlsx`` is not
read (no xlsx reader among our dependencies): use the toolbox table or a CSV.
Missing images are an error naming them; image files the labels do not
mention are reported in a warning.

| name | layout (under the dataset folder) | score |
|---|---|---|
| ``live`` | ``refimgs/``, ``<type>/imgN.bmp`` (jp2k, jpeg, wn, gblur, fastfading) | DMOS (realigned), lower = better |
| ``csiq`` | ``dst_imgs/<type>/<ref>.<TYPE>.<level>.png`` | DMOS, lower = better |
| ``tid2013``, ``tid2008`` | ``distorted_images/iXX_YY_Z.bmp`` | MOS, higher = better |
| ``kadid10k`` | ``images/IXX_YY_ZZ.png`` | MOS ("dmos" column), higher = better |
| ``koniq10k`` | ``1024x768/<id>.jpg`` | MOS, higher = better |
| ``livec`` | ``Images/<name>.bmp`` | MOS, higher = better |
| ``livemd`` | ``Part 1/blurjpeg/``, ``Part 2/blurnoise/`` | DMOS, lower = better |
| ``live-replica`` | built by ``python -m rankiqa.train live-replica`` | realigned DMOS, lower = better |
| ``csv`` | a CSV ``path, score[, ref, type]`` | higher = better unless marked |
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

from rankiqa._names import unknown_name_message
from rankiqa.io import IMAGE_SUFFIXES

__all__ = ["Sample", "Dataset", "load_live_replica", "load_csv", "load_public", "load_dataset", "LOADERS",
           "PUBLIC"]


class Sample(NamedTuple):
    """One rated image."""

    path: Path
    score: float
    ref: str
    dist_type: str


class Dataset(NamedTuple):
    """Samples plus what their scores mean."""

    name: str
    samples: list[Sample]
    higher_is_better: bool
    score_name: str


def _check_files(root: Path, samples: list[Sample]) -> None:
    missing = [s.path for s in samples if not s.path.is_file()]
    if missing:
        shown = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in missing[:5])
        raise FileNotFoundError(f"{root}: {len(missing)} image(s) listed in the labels are missing, e.g. {shown}")


def load_live_replica(root: str | Path, column: str = "dmos_realigned") -> Dataset:
    """The LIVE replica built by ``python -m rankiqa.train live-replica`` (DMOS, lower = better)."""
    root = Path(root)
    index = root / "dmos.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{root}: no dmos.csv; build it with `python -m rankiqa.train live-replica`")
    with open(index, newline="") as f:
        rows = list(csv.DictReader(f))
    samples = [Sample(root / r["file"], float(r[column]), r["ref"], r["dist_type"]) for r in rows]
    _check_files(root, samples)
    return Dataset("live-replica", samples, higher_is_better=False, score_name=column)


def load_csv(path: str | Path) -> Dataset:
    """A plain CSV with columns ``path, score`` and optional ``ref, type`` (paths relative to the CSV).

    Higher score = better unless the file has a ``# lower_is_better`` first line.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; csv: takes the CSV file itself (columns path, score)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, newline="") as f:
        first = f.readline()
        lower = first.strip().lower() == "# lower_is_better"
        if not lower:
            f.seek(0)
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "score"} <= set(rows[0]):
        raise ValueError(f"{path}: needs a header with at least 'path' and 'score' columns")
    samples = [Sample(path.parent / r["path"], float(r["score"]), r.get("ref") or r["path"], r.get("type") or "")
               for r in rows]
    _check_files(path.parent, samples)
    return Dataset(path.stem, samples, higher_is_better=not lower, score_name="score")


class _Spec(NamedTuple):
    """How one public dataset is laid out and labelled."""

    table: str  # the toolbox's meta_info file name
    own_labels: str | None  # the dataset's own label file, if we read it
    image_dir: str  # folder of the rated images, searched for extra files
    path: Callable[[dict], str]
    score: str
    higher_is_better: bool
    ref: Callable[[dict], str]
    dist_type: Callable[[dict], str]


def _tid_type(row: dict) -> str:
    return str(int(row["dist_name"].split("_")[1]))


PUBLIC: dict[str, _Spec] = {
    "live": _Spec("meta_info_LIVEIQADataset.csv", "refnames_all.mat", ".", lambda r: r["dist_name"], "mos", False,
                  lambda r: Path(r["ref_name"]).name, lambda r: r["dist_name"].split("/")[0]),
    "csiq": _Spec("meta_info_CSIQDataset.csv", None, "dst_imgs",
                  lambda r: f"dst_imgs/{r['dist_name'].split('.')[1].lower()}/{r['dist_name']}", "dmos", False,
                  lambda r: r["ref_name"], lambda r: r["dist_name"].split(".")[1].lower()),
    "tid2013": _Spec("meta_info_TID2013Dataset.csv", "mos_with_names.txt", "distorted_images",
                     lambda r: f"distorted_images/{r['dist_name']}", "mos", True,
                     lambda r: r["dist_name"][:3].upper(), _tid_type),
    "tid2008": _Spec("meta_info_TID2008Dataset.csv", "mos_with_names.txt", "distorted_images",
                     lambda r: f"distorted_images/{r['dist_name']}", "mos", True,
                     lambda r: r["dist_name"][:3].upper(), _tid_type),
    "kadid10k": _Spec("meta_info_KADID10kDataset.csv", "dmos.csv", "images", lambda r: f"images/{r['dist_name']}",
                      "dmos", True, lambda r: r["ref_name"], _tid_type),
    "koniq10k": _Spec("meta_info_KonIQ10kDataset.csv", None, "1024x768", lambda r: f"1024x768/{r['img_name']}",
                      "mos", True, lambda r: r["img_name"], lambda r: "authentic"),
    "livec": _Spec("meta_info_LIVEChallengeDataset.csv", None, "Images", lambda r: f"Images/{r['img_name']}",
                   "mos", True, lambda r: r["img_name"], lambda r: "authentic"),
    "livemd": _Spec("meta_info_LIVEMDDataset.csv", None, ".", lambda r: r["dist_name"], "dmos", False,
                    lambda r: Path(r["ref_name"]).name, lambda r: r["dist_name"].split("/")[1]),
}


#: LIVE release 2 numbers its 982 images in this order: jp2k/img1..img227,
#: then jpeg/img1..img233, ... (the order of dmos.mat and refnames_all.mat).
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def _live_mat_rows(refnames: Path) -> tuple[list[dict], str]:
    """LIVE's own labels: realigned DMOS (``dmos_new`` of dmos_realigned.mat) if present, else
    ``dmos`` of dmos.mat; the reference images themselves (``orgs == 1``) are left out."""
    from scipy.io import loadmat

    root = refnames.parent
    realigned, original = root / "dmos_realigned.mat", root / "dmos.mat"
    source, key = (realigned, "dmos_new") if realigned.is_file() else (original, "dmos")
    if not source.is_file():
        raise FileNotFoundError(f"live: {refnames.name} found but neither {realigned.name} nor {original.name}")
    try:
        mat = loadmat(str(source))
        scores, orgs = mat[key].ravel(), mat["orgs"].ravel()
        names = [str(np_str.ravel()[0]) for np_str in loadmat(str(refnames))["refnames_all"].ravel()]
    except (KeyError, IndexError, ValueError, OSError) as exc:
        raise ValueError(f"{source}: not LIVE release 2 labels ({type(exc).__name__}: {exc})") from None
    files = [f"{folder}/img{i}.bmp" for folder, n in LIVE_FOLDERS for i in range(1, n + 1)]
    if not len(scores) == len(orgs) == len(names) == len(files):
        raise ValueError(f"{source}: {len(scores)} scores, {len(orgs)} flags and {len(names)} reference names; "
                         f"LIVE release 2 has {len(files)} images")
    rows = [{"ref_name": f"refimgs/{ref}", "dist_name": f, "mos": float(v)}
            for f, v, org, ref in zip(files, scores, orgs, names) if not org]
    return rows, "dmos_realigned" if source == realigned else "dmos"


def _own_label_rows(name: str, path: Path) -> tuple[list[dict], str | None]:
    """Rows of a dataset's own label file, in the toolbox table's column names, and the
    name of the score they hold when it differs from the table's."""
    if name == "live":
        return _live_mat_rows(path)
    if name.startswith("tid"):
        rows = []
        for line in path.read_text().splitlines():
            if line.strip():
                score, fname = line.split()
                rows.append({"dist_name": fname, "mos": score})
        return rows, None
    with open(path, newline="") as f:  # KADID-10k: dist_img, ref_img, dmos, var
        return [{"dist_name": r["dist_img"], "ref_name": r["ref_img"], "dmos": r["dmos"]}
                for r in csv.DictReader(f)], None


def _case_insensitive(root: Path, rel: str) -> Path:
    """TID's files mix i01_ and I01_ names: match the case on disk."""
    path = root / rel
    if path.exists():
        return path
    folder = path.parent
    if folder.is_dir():
        lower = {p.name.lower(): p for p in folder.iterdir()}
        return lower.get(path.name.lower(), path)
    return path


def load_public(name: str, root: str | Path, labels: str | Path | None = None) -> Dataset:
    """A public IQA dataset in its distributed layout (see the module table)."""
    if name not in PUBLIC:
        raise ValueError(unknown_name_message("dataset", name, PUBLIC))
    spec = PUBLIC[name]
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: no such folder {root}")
    if labels is None:
        # The dataset's own labels first: LIVE's hold the realigned DMOS, the toolbox table does not.
        candidates = ([root / spec.own_labels] if spec.own_labels else []) + [root / spec.table]
        labels = next((c for c in candidates if c.is_file()), None)
        if labels is None:
            raise FileNotFoundError(f"{name}: no label table in {root} (looked for "
                                    f"{', '.join(c.name for c in candidates)}); pass labels=")
    labels = Path(labels)
    score_name = spec.score
    if spec.own_labels is not None and labels.name == spec.own_labels:
        rows, own_score = _own_label_rows(name, labels)
        score_name = own_score or score_name
    else:
        with open(labels, newline="") as f:
            rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{labels}: no rows")
    try:
        samples = [Sample(_case_insensitive(root, spec.path(r)), float(r[spec.score]), spec.ref(r),
                          spec.dist_type(r)) for r in rows]
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{labels}: not a {name} label table ({type(exc).__name__}: {exc})") from None
    _check_files(root, samples)
    _warn_extra(root / spec.image_dir, samples, name)
    return Dataset(name, samples, higher_is_better=spec.higher_is_better, score_name=score_name)


def _warn_extra(folder: Path, samples: list[Sample], name: str) -> None:
    if not folder.is_dir():
        return
    listed = {s.path.resolve() for s in samples}
    refs = {s.ref.lower() for s in samples}
    extra = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() not in listed
                   and p.name.lower() not in refs and "refimgs" not in p.parts)
    if extra:
        shown = ", ".join(str(p.relative_to(folder)) for p in extra[:5])
        warnings.warn(f"{name}: {len(extra)} image file(s) in {folder} are not in the labels, e.g. {shown}",
                      stacklevel=3)


LOADERS: dict[str, Callable[[str], Dataset]] = {"live-replica": load_live_replica, "csv": load_csv}
LOADERS.update({n: (lambda path, n=n: load_public(n, path)) for n in PUBLIC})


def load_dataset(spec: str) -> Dataset:
    """Load ``NAME:PATH`` (e.g. ``tid2013:/data/TID2013``, ``live-replica:runs/live_replica``, ``csv:s.csv``)."""
    name, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"dataset must be NAME:PATH, got {spec!r} (names: {', '.join(LOADERS)})")
    if name not in LOADERS:
        raise ValueError(unknown_name_message("dataset", name, LOADERS))
    return LOADERS[name](path)
