"""A self-contained HTML report of a ranking: thumbnails best first, a histogram, the failures.

One file, no network: thumbnails are inline JPEG data URIs, the histogram is
inline SVG, there is no script, and a Content-Security-Policy forbids the page
from fetching anything. Each thumbnail links to its full-size image (a relative
path from the report, so the folder and report can move together), and, with
``maps=True``, to its quality map, written beside the report in
``<name>_maps/``.
"""

from __future__ import annotations

import base64
import html
import io
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from rankiqa import __version__
from rankiqa.api import DEFAULT_BATCH_SIZE, RankedImage, Scorer, _cached_scorer
from rankiqa.errors import ImageLoadError
from rankiqa.heatmap import save_quality_map
from rankiqa.io import describe_input, expand_inputs, images_in_folder, load_image

__all__ = ["report", "Report", "THUMB_SIZE"]

#: Longest side of a thumbnail in pixels (see bench/report.py for size and load time).
THUMB_SIZE = 160
_THUMB_QUALITY = 70
_BINS = 20


class Report(NamedTuple):
    """What :func:`report` wrote: the HTML file, the ranking (best first), the failures and the maps."""

    path: Path
    ranked: list[RankedImage]
    errors: dict[int, ImageLoadError]
    maps: dict[int, Path]


def _thumbnail(x: Any, size: int) -> bytes:
    """JPEG bytes of a thumbnail; JPEGs are decoded at reduced size (draft mode)."""
    if isinstance(x, (str, Path)):
        with Image.open(x) as im:
            im.draft("RGB", (size * 2, size * 2))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
    else:
        arr = load_image(x).permute(1, 2, 0).numpy()
        im = Image.fromarray(np.round(arr * 255).astype(np.uint8))
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=_THUMB_QUALITY, optimize=True)
    return buf.getvalue()


def _href(target: Path, base: Path) -> str:
    try:
        rel = os.path.relpath(target.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return target.resolve().as_uri()
    return quote(os.fsencode(Path(rel).as_posix()))  # bytes: file names need not be valid UTF-8


def _histogram_svg(scores: list[float], lo: float, hi: float, width: int = 560, height: int = 150) -> str:
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(scores, bins=_BINS, range=(lo, hi))
    top = max(1, int(counts.max(initial=0)))
    left, bottom, plot_h = 36, 22, height - 34
    bar_w = (width - left - 8) / _BINS
    parts = [f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'role="img" aria-label="histogram of scores">']
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x = left + i * bar_w
        parts.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}">'
                     f'<title>{edges[i]:.3g} to {edges[i + 1]:.3g}: {c}</title></rect>')
    axis_y = height - bottom
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - 8}" y2="{axis_y}" class="axis"/>')
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = left + frac * (width - left - 8)
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">{lo + frac * (hi - lo):.3g}</text>')
    parts.append(f'<text x="4" y="{height - bottom - plot_h + 10}">{top}</text>')
    parts.append(f'<text x="4" y="{axis_y}">0</text></svg>')
    return "".join(parts)


_CSS = """
body{font:14px system-ui,sans-serif;margin:20px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} .meta{color:#555;margin-bottom:12px}
.hist rect{fill:#3b518b} .hist text{font-size:11px;fill:#444} .hist .axis{stroke:#444}
.grid{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}
.card{width:172px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;box-sizing:border-box}
.card.best{border:2px solid #2a9d4a}
.card img{display:block;max-width:160px;max-height:160px;margin:0 auto}
.thumb{display:flex;align-items:center;justify-content:center;height:160px}
.rank{font-weight:600} .score{float:right;font-variant-numeric:tabular-nums}
.name{font-size:12px;color:#555;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.best-tag{color:#2a9d4a;font-size:12px} a{color:#1f5fa8}
#failed li{font-family:ui-monospace,monospace;font-size:12px;margin:2px 0}
"""


def _text(name: str) -> str:
    """HTML-escaped, with undecodable file-name bytes shown as U+FFFD instead of failing."""
    return html.escape(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _card(rank: int, r: RankedImage, name: str, thumb: bytes | None, href: str | None, map_href: str | None) -> str:
    img = (f'<img src="data:image/jpeg;base64,{base64.b64encode(thumb).decode()}" alt="{_text(name)}" '
           'decoding="async">' if thumb else '<span class="name">(no preview)</span>')
    if href:
        img = f'<a href="{html.escape(href)}" target="_blank" title="open full size">{img}</a>'
    links = f' &middot; <a class="map" href="{html.escape(map_href)}" target="_blank">map</a>' if map_href else ""
    best = ' <span class="best-tag">best</span>' if rank == 1 else ""
    return (f'<div class="card{" best" if rank == 1 else ""}" data-rank="{rank}" data-score="{r.score!r}" '
            f'data-index="{r.index}"><div class="thumb">{img}</div>'
            f'<div><span class="rank">#{rank}</span>{best}<span class="score">{r.score:.2f}</span></div>'
            f'<div class="name" title="{_text(name)}">{_text(Path(name).name if r.path else name)}</div>'
            f'<div class="name">input {r.index}{links}</div></div>')


def report(images: Any, out: str | os.PathLike[str] = "report.html", model: str | os.PathLike[str] | Scorer = "default",
           *, title: str | None = None, maps: bool = True, map_stride: int | None = None,
           protocol: str | None = None, device: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
           thumb_size: int = THUMB_SIZE, progress: bool = False, raw: bool = False) -> Report:
    """Score and rank ``images`` (paths, folders, in-memory images or a list of them) and write an HTML report.

    Failed inputs are listed in the report with their errors and never stop
    the others. With ``maps``, each image's quality map (see
    :meth:`rankiqa.api.Scorer.quality_map`) is written to ``<out stem>_maps/``
    and linked from its card.
    """
    if isinstance(thumb_size, bool) or not isinstance(thumb_size, int) or thumb_size < 16:
        raise ValueError(f"thumb_size must be an int >= 16, got {thumb_size!r}")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{out}: the report must be an .html file")
    if not out.parent.exists():
        raise ValueError(f"{out}: folder {out.parent} does not exist")
    items = [f for x in expand_inputs(images)
             for f in (images_in_folder(x) if isinstance(x, (str, Path)) and Path(x).is_dir() else [x])]
    if not items:
        raise ValueError("no images given")
    scorer = _cached_scorer(model, device)
    raw_scores, errors = scorer.score_with_errors(items, protocol, batch_size, progress)
    scores = scorer.output_scores(raw_scores, raw)
    ranked = sorted((RankedImage(i, os.fspath(x) if isinstance(x, (str, Path)) else None, s)
                     for i, (x, s) in enumerate(zip(items, scores)) if i not in errors),
                    key=lambda r: (-r.score, r.index))
    map_dir = out.with_name(out.stem + "_maps")
    written_maps: dict[int, Path] = {}
    cards = []
    bar = tqdm(total=len(ranked), disable=not progress, file=sys.stderr, unit="img", desc="report")
    for k, r in enumerate(ranked, 1):
        x = items[r.index]
        name = describe_input(x, r.index)
        try:
            thumb = _thumbnail(x, thumb_size)
        except Exception:  # noqa: BLE001 - it scored, so a preview failure must not lose the row
            thumb = None
        map_href = None
        if maps:
            map_dir.mkdir(exist_ok=True)
            written_maps[r.index] = map_dir / f"{k:05d}_{r.index}.png"
            save_quality_map(scorer, x, written_maps[r.index], stride=map_stride, raw=raw,
                             title=f"#{k} {Path(name).name}: {r.score:.2f}", max_side=1200)
            map_href = _href(written_maps[r.index], out.parent)
        href = _href(Path(x), out.parent) if isinstance(x, (str, Path)) else None
        cards.append(_card(k, r, name, thumb, href, map_href))
        bar.update(1)
    bar.close()
    good = [r.score for r in ranked]
    calibrated = scorer.calibration is not None and not raw
    lo, hi = (0.0, 100.0) if calibrated else ((min(good), max(good)) if good else (0.0, 1.0))
    failed = "".join(f'<li class="failed-file"><b>{_text(describe_input(items[i], i))}</b>: '
                     f'{_text(e.reason)}</li>' for i, e in sorted(errors.items()))
    stats = (f"mean {np.mean(good):.2f}, median {np.median(good):.2f}" if good else "nothing scored")
    heading = title or f"rankiqa report: {len(items)} images"
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
        f"<meta name=\"viewport\" content=\"width=device-width\"><title>{html.escape(heading)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(heading)}</h1>"
        f"<div class=\"meta\">model <b>{html.escape(scorer.name)}</b>, protocol "
        f"{html.escape(scorer.views_label(protocol))}, scores {'0-100' if calibrated else 'raw'} (higher = better); "
        f"{len(ranked)} scored, {len(errors)} failed; {stats}. Made by rankiqa {__version__} on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</div>"
        f"{_histogram_svg(good, lo, hi)}"
        + (f"<section id=\"failed\"><h2>Failed ({len(errors)})</h2><ul>{failed}</ul></section>" if errors else "")
        + f"<section><h2>Best first</h2><div class=\"grid\" id=\"ranking\">{''.join(cards)}</div></section>"
        "</body></html>\n")
    out.write_text(page, encoding="utf-8")
    return Report(out, ranked, errors, written_maps)
