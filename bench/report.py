"""HTML report: file size and time to open in headless Chromium, for folders of 10 and 1,000 photos.

The photos are 480x320 JPEGs cut from ../shared/data/refs (cycled with
different crops when more are asked for than exist). Per folder size and
thumbnail size: time to write the report (scoring + thumbnails; maps only for
the small folder), its size, and Chromium's time from navigation to the load
event and to every thumbnail decoded (median of 3 fresh pages).

    python bench/report.py [--sizes 10 1000] [--thumbs 128 160] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rankiqa.api import load_model  # noqa: E402
from rankiqa.html_report import report  # noqa: E402
from rankiqa.io import images_in_folder  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def make_folder(d: Path, n: int, refs: Path) -> list[str]:
    sources = images_in_folder(refs, recursive=True)
    if not sources:
        raise SystemExit(f"no photos under {refs}")
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            if im.width < 480 or im.height < 320:
                im = im.resize((max(480, im.width), max(320, im.height)))
            x = int(rng.integers(0, im.width - 480 + 1))
            y = int(rng.integers(0, im.height - 320 + 1))
            path = d / f"photo_{i:04d}.jpg"
            im.crop((x, y, x + 480, y + 320)).save(path, quality=90)
        out.append(str(path))
    return out


def open_times(html: Path, repeats: int = 3) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    loads, decoded = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(html.resolve().as_uri(), wait_until="load", timeout=120_000)
            loads.append(time.perf_counter() - t0)
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)",
                                   timeout=120_000)
            decoded.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return statistics.median(loads), statistics.median(decoded)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    ap.add_argument("--thumbs", type=int, nargs="+", default=[128, 160])
    ap.add_argument("--refs", type=Path, default=ROOT.parent / "shared" / "data" / "refs")
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--maps-up-to", type=int, default=10, help="write quality maps for folders up to this size")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scorer = load_model(args.model, device="cpu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            d = Path(tmp) / f"n{n}"
            d.mkdir()
            files = make_folder(d, n, args.refs)
            for thumb in args.thumbs:
                maps = n <= args.maps_up_to
                t0 = time.perf_counter()
                rep = report(files, d / f"report_{thumb}.html", scorer, maps=maps, thumb_size=thumb)
                write_s = time.perf_counter() - t0
                load_s, decoded_s = open_times(rep.path)
                size = rep.path.stat().st_size
                rows.append((n, thumb, maps, write_s, size, load_s, decoded_s))
                print(f"n={n} thumb={thumb}: {size / 1e6:.2f} MB, open {decoded_s:.2f} s", file=sys.stderr)
    print(f"Report bench: {args.model}, {args.threads} thread(s), 480x320 JPEGs, Chromium headless\n")
    print("| images | thumbnail px | maps | write s (score + thumbs + maps) | HTML size | KB / image "
          "| Chromium: load event s | all thumbnails decoded s |")
    print("|---|---|---|---|---|---|---|---|")
    for n, thumb, maps, write_s, size, load_s, decoded_s in rows:
        print(f"| {n} | {thumb} | {'yes' if maps else 'no'} | {write_s:.1f} | {size / 1e6:.2f} MB | "
              f"{size / 1e3 / n:.1f} | {load_s:.2f} | {decoded_s:.2f} |")


if __name__ == "__main__":
    main()
