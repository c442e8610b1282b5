"""The HTML report: self-contained, best first, failures listed, names escaped, maps linked."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_photo
from rankiqa.cli import main
from rankiqa.html_report import report
from rankiqa.train.distortions import apply_distortion


def make_burst(d: Path) -> dict[str, int]:
    """Five frames of one photo, blurred 0..4 levels, plus one broken file; returns name -> level."""
    d.mkdir(parents=True, exist_ok=True)
    base = smooth_photo(192, 256, seed=5)
    levels = {}
    for lv, name in enumerate(["sharp.png", "soft & <b>.png", "blurry.png", "blurrier.jpg", "worst.png"]):
        Image.fromarray(apply_distortion("gblur", base, lv)).save(d / name)
        levels[name] = lv
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return levels


class _Cards(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self.failed = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "card" in (a.get("class") or "").split():
            self.cards.append(a)
        if tag in ("img", "script", "link", "iframe", "source") and ("src" in a or "href" in a):
            self.srcs.append(a.get("src") or a.get("href"))
        if tag == "a":
            self.hrefs.append(a["href"])
        if tag == "li" and a.get("class") == "failed-file":
            self.failed += 1


@pytest.fixture(scope="module")
def burst(tmp_path_factory):
    d = tmp_path_factory.mktemp("burst")
    return d, make_burst(d)


@pytest.fixture(scope="module")
def built(burst):
    d, _ = burst
    files = sorted(str(p) for p in d.iterdir())
    return report(files, d / "report.html", "default", title="burst <test>")


def test_report_ranks_and_lists_failures(built, burst):
    d, levels = burst
    html = built.path.read_text(encoding="utf-8")
    p = _Cards()
    p.feed(html)
    scores = [float(c["data-score"]) for c in p.cards]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert [int(c["data-rank"]) for c in p.cards] == [1, 2, 3, 4, 5]
    assert len(built.errors) == 1 and len(built.ranked) == 5
    (err,) = built.errors.values()
    assert p.failed == 1 and "broken.jpg" in html and err.reason and err.reason in html
    # The sharpest frame is the best shot, the most blurred the worst.
    assert Path(built.ranked[0].path).name == "sharp.png"
    assert Path(built.ranked[-1].path).name == "worst.png"
    assert "class=\"card best\"" in html


def test_report_is_self_contained_and_escaped(built):
    html = built.path.read_text(encoding="utf-8")
    p = _Cards()
    p.feed(html)
    assert p.srcs and all(s.startswith("data:image/jpeg;base64,") for s in p.srcs)
    assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "soft &amp; &lt;b&gt;.png" in html and "<b>.png" not in html
    assert "burst &lt;test&gt;" in html
    # Full-size links are relative to the report, URL-quoted, and resolve to the files.
    full = [h for h in p.hrefs if not h.startswith("report_maps/")]
    assert "soft%20%26%20%3Cb%3E.png" in full
    from urllib.parse import unquote
    assert all((built.path.parent / unquote(h)).is_file() for h in p.hrefs)


def test_report_writes_and_links_maps(built):
    assert len(built.maps) == 5
    html = built.path.read_text(encoding="utf-8")
    for path in built.maps.values():
        assert path.is_file() and path.parent.name == "report_maps"
        assert f'href="report_maps/{path.name}"' in html
        with Image.open(path) as im:
            assert im.size[0] > 256


def test_report_in_memory_inputs_and_no_maps(tmp_path):
    arrays = [smooth_photo(96, 128, seed=s) for s in range(3)] + [np.zeros((4, 4, 7), np.uint8)]
    rep = report(arrays, tmp_path / "r.html", maps=False)
    html = rep.path.read_text()
    assert len(rep.ranked) == 3 and len(rep.errors) == 1 and not rep.maps
    assert "input #3" in html and not (tmp_path / "r_maps").exists()


def test_report_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="must be an .html file"):
        report([smooth_photo()], tmp_path / "r.txt")
    with pytest.raises(ValueError, match="does not exist"):
        report([smooth_photo()], tmp_path / "nope" / "r.html")
    with pytest.raises(ValueError, match="no images"):
        report([], tmp_path / "r.html")
    with pytest.raises(ValueError, match="thumb_size"):
        report([smooth_photo()], tmp_path / "r.html", thumb_size=4)


def test_cli_rank_html(burst, tmp_path, capsys):
    d, _ = burst
    out = tmp_path / "cli.html"
    code = main(["rank", str(d), "--html", str(out), "--no-maps", "--no-progress", "--json"])
    captured = capsys.readouterr()
    assert code == 1  # the broken file
    assert out.is_file() and "report:" in captured.err and "broken.jpg" in captured.err
    import json
    rows = json.loads(captured.out)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert Path(rows[0]["path"]).name == "sharp.png"
    assert main(["rank", str(d), "--html", str(tmp_path / "x.pdf"), "--no-progress"]) == 2


def test_top_level_report_takes_a_folder(burst, tmp_path):
    import rankiqa

    d, levels = burst
    rep = rankiqa.report(str(d), tmp_path / "folder.html", maps=False)
    assert len(rep.ranked) == len(levels) and len(rep.errors) == 1
    assert [Path(r.path).name for r in rep.ranked][0] == "sharp.png"


def test_file_names_that_are_not_utf8(tmp_path):
    import os

    name = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: a surrogate escape in Python
    Image.fromarray(smooth_photo(64, 64)).save(tmp_path / name)
    rep = report([str(tmp_path / name)], tmp_path / "r.html")
    html = rep.path.read_text(encoding="utf-8")
    assert "caf\ufffd.png" in html and 'href="caf%E9.png"' in html
