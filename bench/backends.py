"""Other inference backends for the scoring network, side by side with the library's own: does any pay?

Issue 15 allowed "ONNX Runtime as an optional backend" and whatever else measurements show, "only where it
pays". Each row swaps the network inside one :class:`rankiqa.api.Scorer` (same lanes, crops, batches and pooling;
ONNX Runtime sessions keep their own ``--threads`` in each lane) and scores one folder of 768x512 JPEGs
(``bench/inference.make_folder``) with the same threads:

- torch float32 and bfloat16: the library as it ships (batch norm folded, channels_last, first block sliced);
- torch int8: post-training static quantisation (``torch.ao.quantization`` FX, x86 engine, int8 weights per
  channel), activation ranges observed on ``--calib`` crops of training photos. That API warns it is deprecated
  in favour of the separate ``torchao`` package;
- ONNX Runtime float32 and int8 (``quantize_static``, QDQ, the same crops), on its CPU provider;
- OpenCV BRISQUE's features (``bench/inference.brisque``), the issue's speed target, in the same run.

Per row: images/s of the whole pipeline, the network alone (ms per batch of one image's 15 crops), and how far
the scores move from torch float32 on the 0-100 scale (mean / max absolute difference over the folder); with
``--live runs/live_replica`` also LIVE replica SROCC (all, JPEG 2000, blur). Needs ``bench/requirements.txt``.

    python bench/backends.py [--images 100] [--threads 2] [--live runs/live_replica] [--rows float32,int8,brisque]

How int8 would fare on a CPU without AVX-512 (where ``auto`` is float32 and BRISQUE was ahead, session 19) can be
estimated on an AVX-512 one by capping each library's instruction set: oneDNN, ATen, FBGEMM (torch's int8) and
OpenCV read these at start-up; ONNX Runtime has no such switch, so leave its rows out::

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 \
    OPENCV_CPU_DISABLE=AVX512_SKX,AVX512_CLX,AVX512_CNL,AVX512_ICL,AVX512_COMMON \
    python bench/backends.py --rows float32,int8,brisque
"""

from __future__ import annotations

import copy
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from folder_bench import brisque, folder_bench_parser, live_report, make_folder  # noqa: E402
from rankiqa.api import Scorer, load_model  # noqa: E402
from rankiqa.io import images_in_folder, load_image  # noqa: E402
from rankiqa.models.fusion import fold_batch_norm  # noqa: E402
from rankiqa.precision import native_bf16  # noqa: E402
from rankiqa.protocols import make_crops  # noqa: E402
from rankiqa.weights.checkpoint import network_from_checkpoint  # noqa: E402
from rankiqa.weights.hub import resolve_checkpoint  # noqa: E402


def calibration_crops(refs: Path, n: int, crop: int) -> torch.Tensor:
    """``n`` crops of the scorer's size from photos spread over ``refs`` (activation ranges for int8)."""
    photos = images_in_folder(refs, recursive=True)
    picks = [photos[i * len(photos) // n] for i in range(n)]
    return torch.stack([make_crops(load_image(p, p), "paper", crop, num_crops=1)[0][0] for p in picks])


def torch_int8(net: nn.Module, calib: torch.Tensor) -> nn.Module:
    """``net`` (batch norm folded) with its convolutions in int8, ranges observed on ``calib``."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    net = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(net.features, get_default_qconfig_mapping("x86"), example_inputs=(calib[:2],))
        with torch.inference_mode():
            prepared(net.normalize(calib))
        net.features = convert_fx(prepared)
    return net


class _Onnx(nn.Module):
    """An ONNX Runtime session behind the ``nn.Module`` call the scorer makes."""

    def __init__(self, path: str, threads: int):
        super().__init__()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"x": x.contiguous().numpy()})[0])


def onnx_models(net: nn.Module, calib: torch.Tensor, threads: int, tmp: Path) -> tuple[nn.Module, nn.Module]:
    """(float32, int8) ONNX Runtime versions of ``net``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    f32 = str(tmp / "net.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (calib[:1],), f32, input_names=["x"], output_names=["score"],
                          dynamic_axes={"x": {0: "n"}}, dynamo=False)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": b.numpy()} for b in calib.split(16)])

        def get_next(self):
            return next(self.batches, None)

    int8 = str(tmp / "net_int8.onnx")
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process, on the root logger
    quantize_static(f32, int8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return _Onnx(f32, threads), _Onnx(int8, threads)


def with_network(scorer: Scorer, model: nn.Module, channels_last: bool) -> Scorer:
    other = copy.copy(scorer)
    other.model, other.channels_last = model.eval(), channels_last
    return other


def network_ms(scorer: Scorer, batch: torch.Tensor, repeats: int = 20) -> float:
    x = batch.contiguous(memory_format=torch.channels_last) if scorer.channels_last else batch
    with torch.inference_mode():
        for _ in range(3):
            scorer.model(x)
        t = time.perf_counter()
        for _ in range(repeats):
            scorer.model(x)
    return 1e3 * (time.perf_counter() - t) / repeats


def live_row(scorer: Scorer, ds) -> str:
    """`` | all / JP2K / blur`` LIVE replica SROCC, or nothing without a replica."""
    if ds is None:
        return ""
    rep = live_report(scorer, ds)
    return " | " + " / ".join(f"{m['srocc']:.3f}" for m in (rep["all"], rep["per_type"]["jp2k"],
                                                                rep["per_type"]["gblur"]))


#: What --rows can name.
ROWS = ("float32", "bfloat16", "int8", "ort-float32", "ort-int8", "brisque")


def main() -> None:
    ap = folder_bench_parser(__doc__, "LIVE replica folder: SROCC per backend")
    ap.add_argument("--calib", type=int, default=256, help="crops that set the int8 activation ranges")
    ap.add_argument("--rows", default=None, help=f"comma-separated, of {', '.join(ROWS)} (default: all; torch "
                                                 "float32 is always scored, as the others' reference)")
    args = ap.parse_args()
    want = set(args.rows.split(",")) if args.rows else set(ROWS)
    if want - set(ROWS):
        ap.error(f"--rows: unknown {', '.join(sorted(want - set(ROWS)))} (known: {', '.join(ROWS)})")
    torch.set_num_threads(args.threads)

    base = load_model(args.model, device="cpu", precision="float32")
    net = fold_batch_norm(network_from_checkpoint(resolve_checkpoint(args.model)[0])[0]).eval()
    calib = calibration_crops(args.refs, args.calib, base.crop_size)
    replica = None
    if args.live:
        from rankiqa.train.datasets import load_dataset

        replica = load_dataset(f"live-replica:{args.live}")
    rows: list[tuple[str, Callable[[], Scorer]]] = [("torch float32 (the library's)", lambda: base)]
    if native_bf16() and "bfloat16" in want:
        rows.append(("torch bfloat16 (the library's)",
                     lambda: load_model(args.model, device="cpu", precision="bfloat16")))
    if "int8" in want:
        rows.append(("torch int8 (torch.ao FX, x86)", lambda: with_network(base, torch_int8(net, calib), False)))
    with tempfile.TemporaryDirectory() as tmp:
        if want & {"ort-float32", "ort-int8"}:
            ort32, ort8 = onnx_models(net, calib, args.threads, Path(tmp))
            if "ort-float32" in want:
                rows.append(("ONNX Runtime float32", lambda: with_network(base, ort32, False)))
            if "ort-int8" in want:
                rows.append(("ONNX Runtime int8 (static, QDQ)", lambda: with_network(base, ort8, False)))
        files = make_folder(Path(tmp), args.images, args.refs)
        one = torch.stack(make_crops(load_image(files[0], files[0]), "paper", base.crop_size,
                                     num_crops=base.num_crops)[0])
        print(f"# {args.model}: {args.images} 768x512 JPEGs, {base.views_label()}, {args.threads} threads\n")
        live = " | LIVE replica SROCC: all / JP2K / blur" if args.live else ""
        print(f"| backend | images/s | network, ms per {base.num_crops} crops | vs float32: mean / max abs "
              f"difference, 0-100{live} |\n|---|---|---|---|" + ("---|" if args.live else ""))
        ref = None
        for name, make in rows:
            scorer = make()
            scorer.score(files[:4])  # warm-up
            t = time.perf_counter()
            scores = np.array(scorer.score(files))
            ips = len(files) / (time.perf_counter() - t)
            ref = scores if ref is None else ref
            diff = np.abs(scores - ref)
            print(f"| {name} | {ips:.1f} | {network_ms(scorer, one):.1f} | {diff.mean():.2f} / {diff.max():.2f}"
                  f"{live_row(scorer, replica)} |", flush=True)
        if "brisque" in want:
            rate = brisque(files)
            print(f"| OpenCV BRISQUE (features, 1 process) | {'not installed' if rate is None else f'{rate:.1f}'} | | |"
                  + (" |" if args.live else ""), flush=True)


if __name__ == "__main__":
    main()
