"""Argument declarations of ``python -m rankiqa.train`` (its commands live in :mod:`rankiqa.train.__main__`)."""

from __future__ import annotations

import argparse
import json

from rankiqa._argparse import SuggestingParser, positive_int, positive_int_list

__all__ = ["build_parser"]


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"width\": 0.125}'")
    return value


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """The parser of every command; ``description`` heads its help."""
    from rankiqa.defaults import POOLINGS
    from rankiqa.protocols import PAPER_CROPS
    from rankiqa.train.losses import CROSS_SCOPES, DEFAULT_MARGIN, LOSSES, NET_TEACHER_LOSSES

    p = SuggestingParser(prog="python -m rankiqa.train", description=description,
                         formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synthesize", help="write distorted images and index.csv", allow_abbrev=False)
    s.add_argument("--refs", required=True, help="folder (searched recursively) or file of clean photos")
    s.add_argument("--set", default="live", help="distortion set or families, comma-separated (default: live)")
    s.add_argument("--out", required=True)
    s.add_argument("--workers", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)

    v = sub.add_parser("preview", help="contact sheet: rows = families, columns = levels", allow_abbrev=False)
    v.add_argument("--image", required=True)
    v.add_argument("--set", default="live")
    v.add_argument("--out", required=True, help="output image, e.g. sheet.png")
    v.add_argument("--thumb", type=positive_int, default=160)

    t = sub.add_parser("pretrain", help="ranking pre-training (all-pairs Siamese)", allow_abbrev=False)
    t.add_argument("--refs", required=True, nargs="+", help="folders/files of clean training photos")
    t.add_argument("--heldout", nargs="*", default=[], help="held-out photos (default: a fixed 10%% of --refs)")
    t.add_argument("--set", default="live")
    t.add_argument("--family-weights", type=_json_dict, default={},
                   help="JSON object: draw these sets/families N times as often, e.g. '{\"live_wide\": 3}'")
    t.add_argument("--warmup-set", default="", help="families of the first --warmup-iters iterations (curriculum)")
    t.add_argument("--warmup-iters", type=int, default=0)
    t.add_argument("--arch", default="vgg16")
    t.add_argument("--arch-kwargs", type=_json_dict, default={}, help="JSON object, e.g. '{\"width\": 0.125}'")
    t.add_argument("--iters", type=positive_int, default=50000)
    t.add_argument("--groups", type=positive_int, default=8, help="groups (photo x family) per batch")
    t.add_argument("--groups-per-photo", type=positive_int, default=1,
                   help="groups of a batch sharing one photo and crop under different families (1: the paper)")
    t.add_argument("--groups-per-family", type=positive_int, default=1,
                   help="groups of a batch sharing one family and its settings on different photos (1: off)")
    t.add_argument("--crop", type=positive_int, default=224,
                   help="training crop size; also the held-out check's and the checkpoint card's")
    t.add_argument("--train-crops", type=positive_int_list, default=[],
                   help="several training crop sizes, e.g. 128,192: each batch takes one, drawn from the seed "
                        "(default: --crop alone)")
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--lr-step", type=positive_int, default=10000)
    t.add_argument("--lr-gamma", type=float, default=0.1)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    t.add_argument("--loss", choices=LOSSES, default="all_pairs")
    t.add_argument("--cross-gap", type=int, default=0,
                   help="also rank different photos at least this many levels apart (0: off, the paper)")
    t.add_argument("--cross-weight", type=float, default=1.0, help="weight of the cross-photo hinge")
    t.add_argument("--cross-scope", choices=CROSS_SCOPES, default="batch",
                   help="pairs of the cross-photo hinge: any two photos of a batch, or only photos under one "
                        "family (with --groups-per-family or --cross-families)")
    t.add_argument("--cross-families", default="",
                   help="only these families (sets or names, comma-separated) in the cross-photo hinge, those "
                        "whose levels mean one quality on any photo (default: all); with --cross-scope batch every "
                        "group's clean crop too, with --cross-scope family only photos under one of them")
    t.add_argument("--teacher", default="",
                   help="full-reference teachers for a hinge over any two items of a batch, comma-separated, "
                        "e.g. ms_gmsd,haarpsi (default: off; needs rankiqa[train])")
    t.add_argument("--teacher-gap", type=float, default=1.0,
                   help="pairs count when every teacher agrees by at least this many units")
    t.add_argument("--teacher-weight", type=float, default=1.0, help="weight of the teacher hinge")
    t.add_argument("--teacher-scaled-margin", action="store_true",
                   help="each teacher pair's margin is --margin times the teachers' gap in units, not --margin")
    t.add_argument("--teacher-mean", action="store_true",
                   help="several --teacher as one, the mean of their scores in units, instead of the pairs all "
                        "of them agree on")
    t.add_argument("--teacher-plcc", type=float, default=0.0,
                   help="weight of 1 - the correlation of the score with the teachers over every item of a batch "
                        "(default: 0, off; needs --teacher)")
    t.add_argument("--net-teacher", default="",
                   help="frozen calibrated checkpoints (comma-separated ids or files) whose mean crop score orders "
                        "any two items of --net-teacher-families (default: off)")
    t.add_argument("--net-teacher-families", default="", help="set or family names the network teacher judges")
    t.add_argument("--net-teacher-gap", type=float, default=0.5,
                   help="pairs count when the network teacher's scores differ by this much (calibrated logits)")
    t.add_argument("--net-teacher-rest", default="",
                   help="checkpoints that score the items of every other family for the network teacher's term "
                        "(default: none, those items are left out)")
    t.add_argument("--net-teacher-weight", type=float, default=1.0, help="weight of the network teacher's term")
    t.add_argument("--net-teacher-loss", choices=NET_TEACHER_LOSSES, default="hinge",
                   help="hinge over pairs apart by --net-teacher-gap, or plcc: 1 - correlation with its scores")
    t.add_argument("--clean-tie", type=float, default=0.0,
                   help="weight of a hinge pulling the clean crops of a batch (other photos included) to one "
                        "score (default: 0, off)")
    t.add_argument("--clean-tie-tolerance", type=float, default=0.5,
                   help="score difference two clean crops may keep before --clean-tie pulls")
    t.add_argument("--flip", action="store_true", help="mirror half of the training photos (content augmentation)")
    t.add_argument("--min-scale", type=float, default=1.0,
                   help="downscale each training photo by a random factor in [S, 1] before cropping (1 = off)")
    t.add_argument("--init", default=None, help="checkpoint file or manifest id to start from (default: random)")
    t.add_argument("--widen", action="store_true",
                   help="grow the --init network to --arch-kwargs' wider layers, keeping what it computes "
                        "(new units start silent)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--workers", type=int, default=2, help="DataLoader workers synthesising batches")
    t.add_argument("--threads", type=int, default=None, help="torch threads for the training step")
    t.add_argument("--checkpoint-every", type=positive_int, default=500)
    t.add_argument("--eval-every", type=positive_int, default=1000)
    t.add_argument("--eval-groups", type=positive_int, default=64)
    t.add_argument("--out", required=True)
    t.add_argument("--resume", action="store_true", help="continue from OUT/state.safetensors")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")

    e = sub.add_parser("evaluate-ranking", help="held-out ranking accuracy and the Fig. 2 histogram",
                       allow_abbrev=False)
    e.add_argument("--model", required=True, help="checkpoint file (.safetensors)")
    e.add_argument("--refs", required=True, nargs="+")
    e.add_argument("--set", default="live")
    e.add_argument("--groups", type=positive_int, default=128)
    e.add_argument("--crop", type=int, default=None, help="default: the checkpoint's crop size")
    e.add_argument("--plot", default=None, help="write a PNG histogram of scores by level")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument("--device", default=None)
    f = sub.add_parser("finetune", help="fine-tune on human scores (MSE)", allow_abbrev=False)
    f.add_argument("--init", default=None, help="checkpoint to start from (omit: random init, the baseline)")
    f.add_argument("--arch", default="vgg16_slim", help="architecture when there is no --init")
    f.add_argument("--arch-kwargs", type=_json_dict, default={})
    f.add_argument("--dataset", required=True, help="NAME:PATH, e.g. live-replica:runs/live_replica")
    f.add_argument("--split", choices=("all", "train"), default="all",
                   help="all images, or the training part of a reference-disjoint split")
    f.add_argument("--split-seed", type=int, default=0)
    f.add_argument("--train-fraction", type=float, default=0.8)
    f.add_argument("--epochs", type=positive_int, default=30)
    f.add_argument("--batch-size", type=positive_int, default=16)
    f.add_argument("--crop", type=int, default=None, help="default: the --init checkpoint's")
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--lr-step-epochs", type=positive_int, default=20)
    f.add_argument("--lr-gamma", type=float, default=0.1)
    f.add_argument("--weight-decay", type=float, default=5e-4)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threads", type=int, default=None)
    f.add_argument("--checkpoint-every", type=positive_int, default=100)
    f.add_argument("--out", required=True)
    f.add_argument("--resume", action="store_true")
    f.add_argument("--device", default=None)

    x = sub.add_parser("export", help="checkpoint from a training state (an unfinished run)", allow_abbrev=False)
    x.add_argument("--state", required=True, help="OUT/state.safetensors of a pretrain run")
    x.add_argument("--out", required=True, help="checkpoint file to write (.safetensors)")
    x.add_argument("--num-crops", type=positive_int, default=None,
                   help="random crops it is scored on (default: the paper's 30)")
    x.add_argument("--pooling", choices=POOLINGS, default=None, help="how crop scores pool (default: mean)")

    pb = sub.add_parser("publish", help="add a checkpoint to weights_manifest.json (embedded or hub)",
                        allow_abbrev=False)
    pb.add_argument("--model", required=True, help="checkpoint file (.safetensors)")
    pb.add_argument("--id", required=True, help="manifest id, '<arch>.<tag>'")
    pb.add_argument("--embed", action="store_true", help="ship the file inside the package")
    pb.add_argument("--default", action="store_true", help="make it the default (must be embedded)")
    pb.add_argument("--repo-id", default=None, help="hub repository (when not embedded)")
    pb.add_argument("--revision", default=None, help="pinned hub commit (40 hex digits)")
    pb.add_argument("--quality", nargs="*", default=[], help="report JSON files to record (evaluate --json ...)")
    pb.add_argument("--train-command", default="", help="the command that trained it")
    pb.add_argument("--license", default="MIT (weights); trained on research benchmark photos, see training.data")
    pb.add_argument("--description", default="")
    pb.add_argument("--num-crops", type=int, default=PAPER_CROPS,
                    help="random crops of the paper protocol (fewer where bench/protocols.py measured no loss)")
    pb.add_argument("--pooling", choices=POOLINGS, default="mean",
                    help="how crop scores pool (rankiqa.protocols; activity where bench/protocols.py measured a gain)")
    pb.add_argument("--manifest", default=None, help="default: the package's weights_manifest.json")

    cb = sub.add_parser("calibrate", help="fit a checkpoint's 0-100 output scale to human scores",
                        allow_abbrev=False)
    cb.add_argument("--model", required=True, help="checkpoint id or .safetensors file")
    cb.add_argument("--dataset", required=True, help="NAME:PATH, e.g. live-replica:runs/live_replica")
    cb.add_argument("--protocol", choices=("paper", "grid", "full"), default=None)
    cb.add_argument("--pooling", choices=POOLINGS, default=None, help="default: the checkpoint's")
    cb.add_argument("--write", action="store_true",
                    help="store it in the manifest entry --model (an id), or in the card of --model (a file)")
    cb.add_argument("--manifest", default=None, help="default: the package's weights_manifest.json")

    lr_ = sub.add_parser("live-replica", help="regenerate LIVE's distorted images with their DMOS",
                         allow_abbrev=False)
    lr_.add_argument("--refs", required=True, help="LIVE reference images (../shared/data/live/refs)")
    lr_.add_argument("--params", required=True, help="live_train_refs.csv")
    lr_.add_argument("--out", required=True)
    lr_.add_argument("--only", nargs="*", default=None, help="restrict to these reference file names")

    ev = sub.add_parser("evaluate", help="SROCC/KRCC/PLCC against human scores", allow_abbrev=False)
    ev.add_argument("--model", required=True, help="checkpoint id or .safetensors path")
    ev.add_argument("--dataset", required=True, help="NAME:PATH, e.g. live-replica:runs/live_replica")
    ev.add_argument("--protocol", choices=("paper", "grid", "full"), default=None)
    ev.add_argument("--pooling", choices=POOLINGS, default=None, help="default: the checkpoint's")
    ev.add_argument("--crops", type=positive_int, default=None,
                    help="random crops of the paper protocol (default: the checkpoint's)")
    ev.add_argument("--json", default=None, help="also write the report as JSON to this file")
    ev.add_argument("--psnr-baseline", action="store_true",
                    help="also report full-reference PSNR (live-replica only), to check the replica")
    ev.add_argument("--refs-dir", default=None, help="reference images for --psnr-baseline")
    ev.add_argument("--device", default=None)

    cv = sub.add_parser("crossval", help="the paper's protocol: baseline / rank-only / rank+FT over "
                        "repeated reference-disjoint splits", allow_abbrev=False)
    cv.add_argument("--init", default=None, help="ranking checkpoint (id or .safetensors); omit for the baseline alone")
    cv.add_argument("--dataset", required=True, help="NAME:PATH, e.g. live-replica:runs/live_replica")
    cv.add_argument("--splits", type=positive_int, default=10, help="split seeds 0..N-1 (default 10)")
    cv.add_argument("--train-fraction", type=float, default=0.8)
    cv.add_argument("--epochs", type=positive_int, default=15)
    cv.add_argument("--lr", type=float, default=1e-3)
    cv.add_argument("--no-baseline", action="store_true", help="skip the from-scratch baseline")
    cv.add_argument("--arch", default=None, help="baseline architecture (default: the --init checkpoint's)")
    cv.add_argument("--arch-kwargs", type=_json_dict, default={})
    cv.add_argument("--crop", type=int, default=None)
    cv.add_argument("--protocol", choices=("paper", "grid", "full"), default=None)
    cv.add_argument("--pooling", choices=POOLINGS, default=None, help="default: the --init entry's")
    cv.add_argument("--jobs", type=positive_int, default=1, help="splits run in parallel, one thread each")
    cv.add_argument("--json", default=None, help="also write per-split reports and the summary to this file")
    cv.add_argument("--device", default=None)

    rp = sub.add_parser("reproduce", help="retrain a published checkpoint from random weights: every step of its "
                        "recorded recipe, in order; run again to continue", allow_abbrev=False)
    rp.add_argument("checkpoint", help="manifest id, e.g. vgg16_slim.rank-broad-haarpsi")
    rp.add_argument("--out", required=True, help="folder that gets one subfolder per step")
    rp.add_argument("--dry-run", action="store_true", help="print the steps' commands and stop")
    rp.add_argument("--manifest", default=None, help="weights_manifest.json to read (default: the packaged one)")
    return p
