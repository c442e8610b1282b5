"""`python -m rankiqa.train reproduce`: a published checkpoint's whole recipe as one resumable command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rankiqa.train.__main__ import main
from rankiqa.train.cli_args import build_parser
from rankiqa.train.reproduce import reproduce, training_chain
from rankiqa.weights.checkpoint import read_card
from rankiqa.weights.manifest import load_manifest

TINY = ("--arch vgg16_slim --arch-kwargs '{\"width\": 0.05, \"hidden\": 8}' --crop 32 --groups 2 --iters 3 "
        "--lr-step 2 --lr 0.05 --workers 0 --eval-every 100 --eval-groups 2 --checkpoint-every 2")


def _entry(cp_id: str, command: str) -> dict:
    return {"id": cp_id, "arch": "vgg16_slim", "filename": "x.safetensors", "sha256": "0" * 64, "size": 1,
            "embedded": True, "training": {"command": command}}


def _manifest(refs_dir: Path, **commands: str) -> dict:
    return {"schema_version": 1, "default": None,
            "checkpoints": [_entry(f"vgg16_slim.{k}", c.format(refs=refs_dir, tiny=TINY)) for k, c in commands.items()]}


def _two_checkpoints(refs_dir: Path) -> dict:
    step = "python -m rankiqa.train pretrain --refs {refs} --set gblur,jpeg {tiny}"
    return _manifest(refs_dir, a=step + " --seed 1 --out runs/a",
                     b=step + " --init vgg16_slim.a --seed 2 --out runs/b1 && " + step
                     + " --init runs/b1/model.safetensors --seed 3 --out runs/b2")


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_default_and_its_fine_tune_have_a_complete_recipe():
    steps = training_chain("vgg16_slim.live", "root")
    assert steps[0].checkpoint == "vgg16_slim.rank-broad" and "--init" not in steps[0].argv
    assert [s.argv[0] for s in steps] == ["pretrain"] * (len(steps) - 1) + ["finetune"]
    assert len({s.out for s in steps}) == len(steps) and all(s.out.parent == Path("root") for s in steps)
    for before, step in zip(steps, steps[1:]):
        assert _opt(step.argv, "--init") == str(before.model)  # each step starts where the one before ended
    assert "vgg16_slim.rank-broad-haarpsi" in {s.checkpoint for s in steps}


def test_recorded_commands_are_the_configs_of_the_published_weights():
    """The last step of each recipe, parsed as the CLI parses it, gives the config stored with the weights."""
    parser = build_parser()
    checked = 0
    for cp, rec in load_manifest().items():
        if rec.training.get("stage") != "rank" or "config" not in rec.training:
            continue
        args = parser.parse_args(shlex.split(rec.training["command"].split("&&")[-1])[3:])
        cfg = rec.training["config"]
        pairs = {"iters": args.iters, "seed": args.seed, "lr": args.lr, "lr_step": args.lr_step,
                 "families": args.set, "teacher": args.teacher, "crop_size": args.crop,
                 "groups_per_batch": args.groups, "arch_kwargs": args.arch_kwargs, "cross_gap": args.cross_gap}
        for key, value in pairs.items():
            assert cfg.get(key, value) == value, (cp, key)
        checked += 1
    assert checked >= 9


def test_replays_in_order_skips_what_is_done_and_resumes(refs_dir, tmp_path):
    manifest = _two_checkpoints(refs_dir)
    code, model = reproduce("vgg16_slim.b", tmp_path / "r", manifest, log=lambda _: None)
    assert code == 0 and model == tmp_path / "r" / "b2" / "model.safetensors"
    cards = {n: read_card(tmp_path / "r" / n / "model.safetensors")["training"]["config"] for n in ("a", "b1", "b2")}
    assert cards["a"]["init"] is None and cards["a"]["seed"] == 1
    assert cards["b1"]["init"] == str(tmp_path / "r" / "a" / "model.safetensors")
    assert cards["b2"]["init"] == str(tmp_path / "r" / "b1" / "model.safetensors") and cards["b2"]["seed"] == 3
    # Run again: nothing left to do.
    calls: list[list[str]] = []
    assert reproduce("vgg16_slim.b", tmp_path / "r", manifest, run=lambda a: calls.append(list(a)) or 0,
                     log=lambda _: None)[0] == 0
    assert calls == []
    # A step that stopped before exporting continues from its state, to the same weights.
    done = load_file(str(model))
    model.unlink()
    calls.clear()

    def spy(argv):
        calls.append(list(argv))
        return main(argv)

    assert reproduce("vgg16_slim.b", tmp_path / "r", manifest, run=spy, log=lambda _: None)[0] == 0
    assert len(calls) == 1 and calls[0][-1] == "--resume" and _opt(calls[0], "--out") == str(model.parent)
    again = load_file(str(model))
    assert done.keys() == again.keys() and all((done[k] == again[k]).all() for k in done)


def test_a_failed_step_stops_the_chain(refs_dir, tmp_path):
    calls: list[list[str]] = []
    code, _ = reproduce("vgg16_slim.b", tmp_path, _two_checkpoints(refs_dir),
                        run=lambda a: calls.append(list(a)) or 2, log=lambda _: None)
    assert code == 2 and len(calls) == 1


def test_cli_dry_run_and_errors(refs_dir, tmp_path, capsys):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_two_checkpoints(refs_dir)))
    assert main(["reproduce", "vgg16_slim.b", "--out", str(tmp_path / "o"), "--manifest", str(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("python -m rankiqa.train pretrain ") for line in lines)
    assert f"--out {tmp_path / 'o' / 'b1'}" in lines[1]
    assert f"--init {tmp_path / 'o' / 'a' / 'model.safetensors'}" in lines[1]
    assert main(["reproduce", "vgg16_slim.bb", "--out", "o", "--manifest", str(path)]) == 2
    assert "did you mean 'vgg16_slim.b'" in capsys.readouterr().err


@pytest.mark.parametrize("commands, match", [
    ({"a": "python -m rankiqa.train pretrain --refs {refs} --init vgg16_slim.zz --out runs/a"}, "neither a checkpoint"),
    ({"a": "python -m rankiqa.train pretrain --refs {refs} --init runs/x/model.safetensors --out runs/a"},
     "neither a checkpoint"),
    ({"a": "python -m rankiqa.train evaluate --model m --dataset d --out runs/a"}, "cannot replay"),
    ({"a": "python -m rankiqa.train pretrain --refs {refs}"}, "no --out"),
    ({"a": "python -m rankiqa.train pretrain --refs {refs} --init vgg16_slim.b --out runs/a",
      "b": "python -m rankiqa.train pretrain --refs {refs} --init vgg16_slim.a --out runs/b"}, "cycle"),
    ({"a": "  "}, "records no training command"),
])
def test_recipes_that_cannot_be_replayed(refs_dir, commands, match):
    with pytest.raises(ValueError, match=match):
        training_chain("vgg16_slim.a", "o", _manifest(refs_dir, **commands))
