"""``python -m rankiqa.train <command>``: the reproduction tools.

Commands: synthesize, preview, pretrain, finetune, export, evaluate-ranking, live-replica, evaluate,
crossval, publish, calibrate, reproduce.
Results go to files or stdout; progress and diagnostics to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from rankiqa.allocator import reuse_freed_memory
from rankiqa.errors import RankIQAError
from rankiqa.train.cli_args import build_parser

__all__ = ["main"]


def _cmd_finetune(a: argparse.Namespace) -> int:
    from rankiqa.train.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(dataset=a.dataset, out=a.out, init=a.init, arch=a.arch, arch_kwargs=a.arch_kwargs,
                         crop_size=a.crop, split=a.split, split_seed=a.split_seed, train_fraction=a.train_fraction,
                         epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, lr_step_epochs=a.lr_step_epochs,
                         lr_gamma=a.lr_gamma, weight_decay=a.weight_decay, seed=a.seed, threads=a.threads,
                         checkpoint_every=a.checkpoint_every, device=a.device)
    print(finetune(cfg, resume=a.resume))
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from rankiqa.train.trainer import export_state

    print(export_state(a.state, a.out, num_crops=a.num_crops, pooling=a.pooling))
    return 0


def _cmd_publish(a: argparse.Namespace) -> int:
    from rankiqa.train.publish import publish

    rec = publish(a.model, a.id, embed=a.embed, make_default=a.default, repo_id=a.repo_id, revision=a.revision,
                  quality_files=a.quality, command=a.train_command, license=a.license, description=a.description,
                  num_crops=a.num_crops, pooling=a.pooling, manifest=a.manifest)
    print(json.dumps(rec, indent=2))
    return 0


def _cmd_live_replica(a: argparse.Namespace) -> int:
    from rankiqa.train.live_replica import build_live_replica

    print(build_live_replica(a.refs, a.params, a.out, refs_only=a.only))
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from rankiqa.train.datasets import load_dataset
    from rankiqa.train.evaluation import evaluate_dataset, metrics_table, scored_with

    dataset = load_dataset(a.dataset)
    scores, protocol = scored_with(a.model, dataset, a.protocol, a.device, pooling=a.pooling, num_crops=a.crops)
    report = {"model": a.model, "protocol": protocol, **evaluate_dataset(scores, dataset)}
    print(f"### {a.model} on {dataset.name} ({len(dataset.samples)} images, target {dataset.score_name})\n")
    print(metrics_table(report))
    if a.psnr_baseline:
        from rankiqa.train.live_replica import psnr_scores

        report["psnr_baseline"] = evaluate_dataset(psnr_scores(dataset, a.refs_dir), dataset)
        print("\n### full-reference PSNR on the same images\n")
        print(metrics_table(report["psnr_baseline"]))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    return 0


def _cmd_crossval(a: argparse.Namespace) -> int:
    from rankiqa.train.crossval import cross_validate, summary_table

    result = cross_validate(a.dataset, a.init, a.splits, baseline=not a.no_baseline, jobs=a.jobs,
                            epochs=a.epochs, lr=a.lr, train_fraction=a.train_fraction, protocol=a.protocol,
                            pooling=a.pooling, arch=a.arch, arch_kwargs=a.arch_kwargs, crop_size=a.crop,
                            device=a.device)
    for metric, title in (("srocc", "SROCC"), ("plcc_logistic", "PLCC after the 5-parameter logistic")):
        print(f"### {title}, median of {a.splits} reference-disjoint splits ({a.dataset})\n")
        print(summary_table(result["summary"], metric) + "\n")
    print(f"### SROCC, mean ± std over splits\n\n{summary_table(result['summary'], 'srocc', 'mean')}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return 0


def _cmd_synthesize(a: argparse.Namespace) -> int:
    from rankiqa.train.synthesis import synthesize

    index = synthesize(a.refs, a.set, a.out, workers=a.workers, seed=a.seed)
    print(index)
    return 0


def _cmd_preview(a: argparse.Namespace) -> int:
    from rankiqa.train.ranking_data import read_rgb
    from rankiqa.train.synthesis import contact_sheet

    image = read_rgb(a.image)
    contact_sheet(image, [a.set] if "," not in a.set else a.set.split(","), thumb=a.thumb).save(a.out)
    print(a.out)
    return 0


def _cmd_pretrain(a: argparse.Namespace) -> int:
    from rankiqa.train.trainer import PretrainConfig, pretrain

    cfg = PretrainConfig(
        refs=a.refs, heldout=a.heldout, out=a.out, families=a.set, family_weights=a.family_weights,
        warmup_families=a.warmup_set, warmup_iters=a.warmup_iters, arch=a.arch, arch_kwargs=a.arch_kwargs,
        iters=a.iters, groups_per_batch=a.groups, groups_per_photo=a.groups_per_photo,
        groups_per_family=a.groups_per_family, crop_size=a.crop,
        train_crops=a.train_crops, lr=a.lr,
        lr_step=a.lr_step, lr_gamma=a.lr_gamma, momentum=a.momentum, weight_decay=a.weight_decay, margin=a.margin,
        loss=a.loss, cross_gap=a.cross_gap, cross_weight=a.cross_weight, cross_scope=a.cross_scope,
        cross_families=a.cross_families,
        teacher=a.teacher, teacher_gap=a.teacher_gap,
        teacher_weight=a.teacher_weight, teacher_scaled=a.teacher_scaled_margin, teacher_mean=a.teacher_mean,
        net_teacher=a.net_teacher, net_teacher_families=a.net_teacher_families, net_teacher_gap=a.net_teacher_gap,
        net_teacher_weight=a.net_teacher_weight, net_teacher_rest=a.net_teacher_rest, teacher_plcc=a.teacher_plcc,
        net_teacher_loss=a.net_teacher_loss, clean_tie=a.clean_tie, clean_tie_tolerance=a.clean_tie_tolerance,
        flip=a.flip, min_scale=a.min_scale,
        init=a.init, widen=a.widen, seed=a.seed,
        workers=a.workers, threads=a.threads, checkpoint_every=a.checkpoint_every, eval_every=a.eval_every,
        eval_groups=a.eval_groups, device=a.device,
    )
    path = pretrain(cfg, resume=a.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(path)
    return 0


def _cmd_evaluate_ranking(a: argparse.Namespace) -> int:
    from rankiqa.train.evaluation import ranking_report

    report = ranking_report(a.model, a.refs, a.set, a.groups, crop_size=a.crop, device=a.device, plot=a.plot)
    print(json.dumps(report, indent=2) if a.json else report["table"])
    return 0


def _cmd_calibrate(a: argparse.Namespace) -> int:
    from rankiqa.train.calibrate import calibrate_checkpoint, record_calibration

    cal = calibrate_checkpoint(a.model, a.dataset, protocol=a.protocol, pooling=a.pooling)
    if a.write:
        record_calibration(a.model, cal, a.manifest)
    print(json.dumps(cal, indent=2))
    return 0


def _cmd_reproduce(a: argparse.Namespace) -> int:
    from rankiqa.train.reproduce import reproduce, training_chain
    from rankiqa.weights.checkpoint import sha256_file
    from rankiqa.weights.manifest import get_record

    manifest = json.loads(Path(a.manifest).read_text()) if a.manifest else None
    if a.dry_run:
        for step in training_chain(a.checkpoint, a.out, manifest):
            print(step.command())
        return 0
    code, model = reproduce(a.checkpoint, a.out, manifest)
    if code == 0:
        published = get_record(a.checkpoint, manifest).sha256
        verdict = ("the published weights, bit for bit" if sha256_file(model) == published else
                   "not the published weights bit for bit (float rounding grows over a run on another CPU or "
                   "library version); compare the two with evaluate")
        print(f"{model}: {verdict}", file=sys.stderr)
        print(model)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser(__doc__ or "").parse_args(argv)
    reuse_freed_memory()  # this process is ours: iteration after iteration reuses the same memory
    handler = {"synthesize": _cmd_synthesize, "preview": _cmd_preview, "pretrain": _cmd_pretrain,
               "evaluate-ranking": _cmd_evaluate_ranking, "live-replica": _cmd_live_replica,
               "evaluate": _cmd_evaluate, "export": _cmd_export, "finetune": _cmd_finetune,
               "publish": _cmd_publish, "crossval": _cmd_crossval,
               "calibrate": _cmd_calibrate, "reproduce": _cmd_reproduce}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, RankIQAError) as exc:  # OSError: unreadable or misplaced files
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
