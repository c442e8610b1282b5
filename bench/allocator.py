"""glibc's default allocator against :func:`rankiqa.allocator.reuse_freed_memory`, side by side.

The setting is process-wide and cannot be undone, so every measurement runs in a fresh process, with and
without it, alternated over ``--rounds``:

1. the network alone: one batch of 32 crops of 128 px, forward passes on one thread (ms each, page faults each);
2. scoring a folder of 768x512 JPEGs (``bench/inference.make_folder``) with ``--threads`` (images/s, page faults
   per image, peak RSS), and one 24-megapixel photo (peak RSS);
3. with ``--train-iters`` > 0, training (``python -m rankiqa.train pretrain``, the broad recipe at width 0.1875
   on one thread, workers in the main process): iterations/s after the first ten, page faults per iteration.

Each in float32 and, where the CPU has it natively, bfloat16.

    python bench/allocator.py [--images 100] [--threads 2] [--rounds 3] [--train-iters 40]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import folder_bench_parser, make_folder  # noqa: E402
from rankiqa.precision import native_bf16  # noqa: E402

_PRELUDE = """
import json, resource, sys, time
import torch
if sys.argv[1] == "on":
    from rankiqa.allocator import reuse_freed_memory
    assert reuse_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def peak_mb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
"""

_NETWORK = _PRELUDE + """
torch.set_num_threads(1)
from rankiqa.api import load_model
model = load_model(sys.argv[3], device="cpu", precision=sys.argv[2]).model
x = torch.rand(32, 3, 128, 128).contiguous(memory_format=torch.channels_last)
with torch.inference_mode():
    for _ in range(3):
        model(x)
    f, t = faults(), time.perf_counter()
    for _ in range(20):
        model(x)
    dt = time.perf_counter() - t
print(json.dumps({"ms": dt / 20 * 1e3, "faults": (faults() - f) / 20}))
"""

_FOLDER = _PRELUDE + """
torch.set_num_threads(int(sys.argv[4]))
from rankiqa.api import load_model
files = json.loads(sys.argv[5])
scorer = load_model(sys.argv[3], device="cpu", precision=sys.argv[2])
scorer.score_with_errors(files[:10])
f, t = faults(), time.perf_counter()
scores, errors = scorer.score_with_errors(files)
dt = time.perf_counter() - t
assert not errors, errors
print(json.dumps({"images_s": len(files) / dt, "faults": (faults() - f) / len(files), "peak_mb": peak_mb()}))
"""

_BIG = _PRELUDE + """
torch.set_num_threads(int(sys.argv[4]))
from rankiqa.api import load_model
scores, errors = load_model(sys.argv[3], device="cpu", precision=sys.argv[2]).score_with_errors([sys.argv[5]])
assert not errors, errors
print(json.dumps({"peak_mb": peak_mb()}))
"""

_TRAIN = _PRELUDE + """
import csv, tempfile
import rankiqa.train.__main__ as cli
cli.reuse_freed_memory = lambda: False  # the command sets it itself; this child decides
with tempfile.TemporaryDirectory() as out:
    f0 = faults()
    code = cli.main(["pretrain", "--refs", sys.argv[5], "--set", "broad,kadid_color_diffusion_gain", "--arch",
                     "vgg16_slim", "--arch-kwargs", '{"width": 0.1875}', "--crop", "128", "--groups", "6",
                     "--iters", sys.argv[4], "--teacher", "haarpsi", "--teacher-gap", "1", "--teacher-weight", "3",
                     "--seed", "24", "--workers", "0", "--threads", "1",
                     "--eval-every", "100000", "--checkpoint-every", "100000", "--out", out])
    assert code == 0
    rows = list(csv.DictReader(open(out + "/log.csv")))
    last, tenth = rows[-1], rows[0]  # logged every 10 iterations: the first ten are left out
    its = (int(last["iteration"]) - int(tenth["iteration"])) / (float(last["elapsed_s"]) - float(tenth["elapsed_s"]))
print(json.dumps({"it_s": its, "faults": (faults() - f0) / int(sys.argv[4])}))
"""


def child(code: str, mode: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, mode, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"child failed ({mode}, {args[:3]}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = folder_bench_parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-iters", type=int, default=40, help="0: leave training out")
    args = ap.parse_args()
    precisions = ("float32", "bfloat16") if native_bf16() else ("float32",)
    results: dict[tuple[str, str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = make_folder(Path(tmp), args.images, args.refs)
        big = str(Path(tmp) / "24mp.jpg")
        with Image.open(files[0]) as im:
            im.resize((6000, 4000), Image.Resampling.BICUBIC).save(big, quality=90)
        for _ in range(args.rounds):
            for p in precisions:
                for mode in ("off", "on"):
                    results.setdefault(("network", p, mode), []).append(child(_NETWORK, mode, p, args.model))
                    results.setdefault(("folder", p, mode), []).append(
                        child(_FOLDER, mode, p, args.model, str(args.threads), json.dumps(files)))
            if args.train_iters > 0:
                for mode in ("off", "on"):
                    results.setdefault(("train", "float32", mode), []).append(
                        child(_TRAIN, mode, "float32", "", str(args.train_iters), str(args.refs)))
        for p in precisions:
            for mode in ("off", "on"):
                results[("big", p, mode)] = [child(_BIG, mode, p, args.model, str(args.threads), big)]

    def mean(kind: str, p: str, mode: str, key: str) -> float:
        return statistics.mean(r[key] for r in results[(kind, p, mode)])

    rows = [("network alone, 32 crops, one thread: ms a forward pass", "network", "ms", "{:.1f}"),
            ("network alone: page faults a forward pass", "network", "faults", "{:.0f}"),
            (f"{args.images} JPEGs, {args.threads} threads: images/s", "folder", "images_s", "{:.1f}"),
            ("the same: page faults an image", "folder", "faults", "{:.0f}"),
            ("the same: peak RSS, MB", "folder", "peak_mb", "{:.0f}"),
            ("one 24-megapixel photo: peak RSS, MB", "big", "peak_mb", "{:.0f}")]
    print(f"# glibc's defaults against reuse_freed_memory(): {args.model}, mean of {args.rounds} fresh processes "
          "each (24-megapixel photo: one)\n")
    print("| measure | precision | glibc's defaults | reuse_freed_memory() | ratio |\n|---|---|---|---|---|")
    for label, kind, key, fmt in rows:
        for p in precisions:
            off, on = mean(kind, p, "off", key), mean(kind, p, "on", key)
            print(f"| {label} | {p} | {fmt.format(off)} | {fmt.format(on)} | {on / off:.2f} |")
    if args.train_iters > 0:
        for label, key, fmt in (("training, one thread: iterations/s", "it_s", "{:.3f}"),
                                ("training: page faults an iteration", "faults", "{:.0f}")):
            off, on = mean("train", "float32", "off", key), mean("train", "float32", "on", key)
            print(f"| {label} | float32 | {fmt.format(off)} | {fmt.format(on)} | {on / off:.2f} |")


if __name__ == "__main__":
    main()
