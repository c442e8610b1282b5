"""One command that retrains a published checkpoint from random weights.

A checkpoint of this repo is often the last of a chain: ``vgg16_slim.live`` is
fine-tuned from the default, which continues ``vgg16_slim.rank-broad-mdsi``,
which continues ... back to a run from random initialisation. Every manifest
entry records the exact commands that made it (``training.command``, steps
joined by ``&&``) and the checkpoint it started from (``--init``). This module
walks that chain back to its start and replays every step in order, each in its
own folder under one output root, with each ``--init`` pointed at the step
before. Seeds are the recorded ones, so the replay is the recipe, not a new one.

It is resumable: a step whose folder holds its exported model is skipped, and a
step interrupted mid-run continues from its last training state (``--resume``),
so a chain longer than one sitting is the same command run again. Data paths
(``--refs``, ``--dataset``) are used as recorded, relative to the folder it runs
in: the repository root, beside ``../shared``, as in the README.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from rankiqa.train.config import MODEL_FILE, STATE_FILE
from rankiqa.weights.manifest import get_record, load_manifest

__all__ = ["Step", "training_chain", "reproduce"]

PREFIX = ["python", "-m", "rankiqa.train"]
TRAINING_COMMANDS = ("pretrain", "finetune")


@dataclass(frozen=True)
class Step:
    """One recorded training command, rewritten to run under an output root."""

    checkpoint: str  # the manifest id whose recipe this step belongs to
    argv: list[str]  # arguments after ``python -m rankiqa.train``
    out: Path

    @property
    def model(self) -> Path:
        return self.out / MODEL_FILE

    def command(self) -> str:
        """The step as a shell command line."""
        return shlex.join(PREFIX + self.argv)


def _option(argv: list[str], name: str) -> str | None:
    """The value of ``--name value`` in ``argv`` (the last one, as argparse takes), or None."""
    found = None
    for i, token in enumerate(argv):
        if token == name and i + 1 < len(argv):
            found = argv[i + 1]
        elif token.startswith(name + "="):
            found = token.split("=", 1)[1]
    return found


def _replace(argv: list[str], name: str, value: str) -> list[str]:
    out, skip = [], False
    for i, token in enumerate(argv):
        if skip:
            skip = False
        elif token == name and i + 1 < len(argv):
            out += [name, value]
            skip = True
        elif token.startswith(name + "="):
            out.append(f"{name}={value}")
        else:
            out.append(token)
    return out


def _recorded_commands(checkpoint: str, manifest: dict[str, Any] | None) -> list[tuple[list[str], str]]:
    """The recorded training commands of one manifest entry: (arguments after the module prefix, its --out)."""
    record = get_record(checkpoint, manifest)
    text = record.training.get("command")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{checkpoint}: its manifest entry records no training command to replay")
    commands = []
    for part in text.split("&&"):
        argv = shlex.split(part)
        if argv[:3] != PREFIX or len(argv) < 4 or argv[3] not in TRAINING_COMMANDS:
            raise ValueError(f"{checkpoint}: cannot replay {part.strip()!r} (only "
                             f"'{' '.join(PREFIX)} {'/'.join(TRAINING_COMMANDS)}' steps are replayed)")
        out = _option(argv, "--out")
        if out is None:
            raise ValueError(f"{checkpoint}: the step {part.strip()!r} has no --out")
        commands.append((argv[3:], out))
    return commands


def training_chain(checkpoint: str, out_root: str | Path, manifest: dict[str, Any] | None = None) -> list[Step]:
    """Every step from random weights to ``checkpoint``, in order, rewritten to run under ``out_root``.

    Each step's ``--out`` becomes ``out_root/<its recorded folder's name>``; an
    ``--init`` naming a manifest id points at that id's last step, and one naming
    the model of an earlier step of the same recipe at that step's folder.
    """
    root = Path(out_root)
    known = set(load_manifest(manifest))
    steps: list[Step] = []
    made: dict[str, Path] = {}  # manifest id or recorded model path -> the replayed model
    seen: list[str] = []

    def visit(cp: str) -> None:
        if cp in seen:
            raise ValueError(f"{cp}: its recipe starts from itself (a cycle through {' -> '.join(seen)})")
        seen.append(cp)
        commands = _recorded_commands(cp, manifest)
        for argv, recorded_out in commands:
            init = _option(argv, "--init")
            if init is not None and init not in known:
                init = str(Path(init))  # a file: spelled as the earlier step's --out spells it
                if init not in made:
                    raise ValueError(f"{cp}: --init {init} is neither a checkpoint id of the manifest nor the "
                                     "model of an earlier step of its recipe")
            elif init is not None and init not in made:
                visit(init)
            out = root / Path(recorded_out).name
            if any(s.out == out for s in steps):
                raise ValueError(f"{cp}: two steps of the chain write to {out}")
            argv = _replace(argv, "--out", str(out))
            if init is not None:
                argv = _replace(argv, "--init", str(made[init]))
            steps.append(Step(cp, argv, out))
            made[str(Path(recorded_out) / MODEL_FILE)] = out / MODEL_FILE
        made[cp] = steps[-1].model
        seen.pop()

    visit(checkpoint)
    return steps


def reproduce(checkpoint: str, out_root: str | Path, manifest: dict[str, Any] | None = None,
              run: Callable[[Sequence[str]], int] | None = None, log: Callable[[str], None] | None = None
              ) -> tuple[int, Path]:
    """Replay ``checkpoint``'s chain under ``out_root``; returns ``(exit code, final model)``.

    ``run`` executes one argument list (default: :func:`rankiqa.train.__main__.main`).
    Finished steps are skipped and an interrupted one resumed, so calling this
    again after an interruption continues where it stopped.
    """
    if run is None:
        from rankiqa.train.__main__ import main as run
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    steps = training_chain(checkpoint, out_root, manifest)
    for k, step in enumerate(steps, 1):
        head = f"step {k}/{len(steps)} ({step.checkpoint})"
        if step.model.exists():
            log(f"{head}: done before, {step.model}")
            continue
        if (step.out / STATE_FILE).exists() and "--resume" not in step.argv:
            step = replace(step, argv=step.argv + ["--resume"])
        log(f"{head}: {step.command()}")
        code = run(step.argv)
        if code != 0:
            log(f"{head} failed (exit code {code}); run the same command again to continue from it")
            return code, step.model
    return 0, steps[-1].model
