"""``rankiqa``: score and rank images from a shell.

Results go to stdout (plain, ``--json`` or ``--csv``); progress and errors to
stderr. Exit codes: 0 all scored, 1 some inputs failed (the rest are still
scored and printed), 2 usage or model errors.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from rankiqa import __version__
from rankiqa._argparse import SuggestingParser, positive_int
from rankiqa.allocator import reuse_freed_memory

__all__ = ["main"]

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    from rankiqa.defaults import DEFAULT_BATCH_SIZE, DEFAULT_PRECISION, POOLINGS, PRECISIONS, PROTOCOLS

    p = SuggestingParser(prog="rankiqa", description="No-reference image quality (RankIQA). "
                         "Scores are higher = better.", allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"rankiqa {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def scoring_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
        sp.add_argument("--model", default="default", help="checkpoint id or .safetensors path (default: default)")
        sp.add_argument("--protocol", choices=PROTOCOLS, default=None,
                        help="crops to score (default: the checkpoint's, usually paper)")
        sp.add_argument("--crops", type=positive_int, default=None,
                        help="random crops of the paper protocol (default: the checkpoint's)")
        sp.add_argument("--pooling", choices=POOLINGS, default=None,
                        help="crop scores to one score: mean, or weighted by each crop's detail "
                             "(default: the checkpoint's)")
        sp.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
        fmt = sp.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true", help="JSON on stdout")
        fmt.add_argument("--csv", action="store_true", help="CSV on stdout")
        sp.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help="crops per forward pass")
        sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
        sp.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for torch; on CPU, one scoring lane each")
        sp.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help=f"network arithmetic (default: {DEFAULT_PRECISION} = bfloat16 on CPUs that have it, "
                             "else float32; float32: the same scores on every machine)")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        sp.add_argument("--raw", action="store_true",
                        help="the network's raw value instead of the checkpoint's 0-100 scale")

    scoring_args(sub.add_parser("score", help="score images", allow_abbrev=False))
    r = sub.add_parser("rank", help="rank images, best first", allow_abbrev=False)
    scoring_args(r)
    r.add_argument("--top", type=positive_int, default=None, help="print only the N best")
    r.add_argument("--html", metavar="REPORT.html", default=None,
                   help="also write a self-contained HTML report (thumbnails best first, histogram, failures)")
    r.add_argument("--no-maps", action="store_true", help="with --html: no quality map per image (faster)")
    r.add_argument("--title", default=None, help="with --html: the report's title")
    mp = sub.add_parser("map", help="draw an image's quality map as a heat map", allow_abbrev=False)
    mp.add_argument("image", metavar="IMAGE")
    mp.add_argument("-o", "--output", required=True, metavar="MAP.png", help="where to write the heat map")
    mp.add_argument("--model", default="default", help="checkpoint id or .safetensors path (default: default)")
    mp.add_argument("--stride", type=positive_int, default=None,
                    help="pixels between windows (default: the network's feature stride, 32)")
    mp.add_argument("--method", choices=("features", "crops"), default="features",
                    help="features: one pass over the image (default); crops: cut and score each window")
    mp.add_argument("--range", nargs=2, type=float, metavar=("LOW", "HIGH"), default=None,
                    help="scores at the ends of the colour bar (default: the map's own range)")
    mp.add_argument("--json", action="store_true", help="the map's numbers as JSON on stdout")
    mp.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    mp.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch")
    mp.add_argument("--raw", action="store_true", help="the network's raw values instead of the 0-100 scale")
    # "list" too: the Python API calls it list_models(), and users type what they know.
    m = sub.add_parser("models", aliases=["list"], help="list checkpoints", allow_abbrev=False)
    m.add_argument("--json", action="store_true")
    d = sub.add_parser("download", help="fetch a checkpoint into the cache and verify it", allow_abbrev=False)
    d.add_argument("name")
    d.add_argument("--cache-dir", default=None)
    d.add_argument("--endpoint", default=None)
    return p


def _expand(paths: Sequence[str], recursive: bool) -> list[str]:
    """Files as given; folders expanded to their images (sorted). Missing paths stay, to be reported."""
    from rankiqa.io import images_in_folder

    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = images_in_folder(path, recursive)
            if not found:
                print(f"warning: {p}: no images found" + ("" if recursive else " (use --recursive?)"),
                      file=sys.stderr)
            out.extend(found)
        else:
            out.append(p)
    return out


def _emit(rows: list[dict], as_json: bool, as_csv: bool) -> None:
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif as_csv:
        w = csv.DictWriter(sys.stdout, ["path", "score", "error"], lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({"path": row["path"], "score": "" if row["score"] is None else f"{row['score']:.6f}",
                        "error": row.get("error") or ""})
    else:
        for row in rows:
            if row["score"] is not None:
                sys.stdout.write(f"{row['score']:.4f}\t{row['path']}\n")


def _cmd_score(args: argparse.Namespace, ranked: bool) -> int:
    import torch

    from rankiqa.api import load_model
    from rankiqa.errors import RankIQAError

    if args.threads:
        torch.set_num_threads(args.threads)
    files = _expand(args.paths, args.recursive)
    if not files:
        print("error: no images to score", file=sys.stderr)
        return EXIT_ERROR
    try:
        scorer = load_model(args.model, device=args.device, protocol=args.protocol, batch_size=args.batch_size,
                            num_crops=args.crops, precision=args.precision, pooling=args.pooling)
    except (RankIQAError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if ranked and args.html:
        scores, errors = _write_report(args, scorer, files)
        if scores is None:
            return EXIT_ERROR
    else:
        scores, errors = scorer.score_with_errors(files, progress=not args.no_progress)
        scores = scorer.output_scores(scores, args.raw)
    rows = []
    for i, (path, s) in enumerate(zip(files, scores)):
        if i in errors:
            print(f"error: {errors[i]}", file=sys.stderr)
            rows.append({"path": path, "score": None, "error": errors[i].reason})
        else:
            rows.append({"path": path, "score": s})
    if ranked:
        good = sorted((r for r in rows if r["score"] is not None), key=lambda r: -r["score"])
        rows = good[: args.top] if args.top else good
        for k, row in enumerate(rows, 1):
            row["rank"] = k
    _emit(rows, args.json, args.csv)
    if errors:
        print(f"{len(errors)} of {len(files)} inputs failed", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _write_report(args: argparse.Namespace, scorer, files: list[str]):
    from rankiqa.html_report import report

    try:
        rep = report(files, args.html, scorer, title=args.title, maps=not args.no_maps, progress=not args.no_progress,
                     raw=args.raw)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, {}
    print(f"report: {rep.path}" + (f" (maps in {rep.path.stem}_maps/)" if rep.maps else ""), file=sys.stderr)
    scores = [float("nan")] * len(files)
    for r in rep.ranked:
        scores[r.index] = r.score
    return scores, rep.errors


def _cmd_map(args: argparse.Namespace) -> int:
    import torch

    from rankiqa.api import load_model
    from rankiqa.errors import ImageLoadError, RankIQAError
    from rankiqa.heatmap import save_quality_map

    if args.threads:
        torch.set_num_threads(args.threads)
    if Path(args.output).suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        print(f"error: {args.output}: the map must be a .png, .jpg or .webp file", file=sys.stderr)
        return EXIT_ERROR
    try:
        scorer = load_model(args.model, device=args.device)
    except (RankIQAError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    lo, hi = args.range if args.range else (None, None)
    try:
        qmap = save_quality_map(scorer, args.image, args.output, stride=args.stride, method=args.method,
                                raw=args.raw, vmin=lo, vmax=hi, title=f"{Path(args.image).name}: quality map "
                                f"({scorer.name}, {scorer.crop_size} px windows)")
    except ImageLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    m = qmap.scores
    if args.json:
        json.dump({"image": args.image, "map": args.output, "model": scorer.name, "window": qmap.window,
                   "stride": qmap.stride, "rows": int(m.shape[0]), "cols": int(m.shape[1]),
                   "min": float(m.min()), "max": float(m.max()), "mean": float(m.mean()),
                   "scores": m.round(4).tolist()}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{args.output}\t{m.shape[0]}x{m.shape[1]} windows, local scores {m.min():.2f} to {m.max():.2f}")
    return EXIT_OK


def _cmd_models(args: argparse.Namespace) -> int:
    from rankiqa.weights.manifest import default_id, load_manifest

    records = load_manifest()
    default = default_id()
    if args.json:
        json.dump({"default": default, "checkpoints": [r.to_dict() for r in records.values()]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not records:
        print("no checkpoints in the manifest yet", file=sys.stderr)
        return EXIT_OK
    header = ("id", "where", "protocol", "size", "quality")
    table = [header]
    for r in records.values():
        where = "embedded" if r.embedded else f"{r.repo_id}@{(r.revision or '')[:8]}"
        q = r.quality.get("summary", "")
        table.append((r.id + (" (default)" if r.id == default else ""), where, r.protocol,
                      f"{r.size / 1e6:.1f} MB", str(q)))
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _cmd_download(args: argparse.Namespace) -> int:
    from rankiqa.errors import RankIQAError
    from rankiqa.weights.hub import fetch_record
    from rankiqa.weights.manifest import get_record

    try:
        path = fetch_record(get_record(args.name), cache_dir=args.cache_dir, endpoint=args.endpoint)
    except RankIQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(path)
    return EXIT_OK


def _warnings_as_lines(previous: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints rankiqa's warnings about an input as one ``warning: FILE: problem``
    line, as its errors are printed, and hands every other warning to ``previous``."""
    from tqdm import tqdm

    from rankiqa.errors import ImageWarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if issubclass(category, ImageWarning):
            tqdm.write(f"warning: {message}", file=sys.stderr)  # above the progress bar, not through it
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rankiqa`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    reuse_freed_memory()  # this process is ours: batch after batch reuses the same memory
    previous, warnings.showwarning = warnings.showwarning, _warnings_as_lines(warnings.showwarning)
    try:
        if args.command in ("score", "rank"):
            return _cmd_score(args, ranked=args.command == "rank")
        if args.command == "map":
            return _cmd_map(args)
        if args.command in ("models", "list"):
            return _cmd_models(args)
        return _cmd_download(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rankiqa score ... | head`
        return EXIT_OK
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
