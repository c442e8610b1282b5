"""A corpus of awkward and broken inputs, generated on the fly, with each one's documented outcome.

Outcome ``"score"`` means the input is scored (with the rule in rankiqa.io);
any other value is a substring of the ImageLoadError's reason.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _photo(h: int = 64, w: int = 80) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def write_file_corpus(d: Path) -> dict[str, str]:
    """Write files into ``d``; returns {file name: expected outcome}."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}

    def save(name: str, im: Image.Image, outcome: str = "score", **kw) -> None:
        im.save(d / name, **kw)
        out[name] = outcome

    save("good.jpg", _photo(), quality=90)
    jpg = io.BytesIO()
    _photo(200, 200).save(jpg, "JPEG", quality=90)
    (d / "truncated.jpg").write_bytes(jpg.getvalue()[: len(jpg.getvalue()) // 2])
    out["truncated.jpg"] = "truncated or corrupt"
    png = io.BytesIO()
    _photo(200, 200).save(png, "PNG")
    (d / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    out["truncated.png"] = "truncated or corrupt"
    (d / "empty.jpg").write_bytes(b"")
    out["empty.jpg"] = "empty file"
    (d / "text.jpg").write_text("this is not an image\n")
    out["text.jpg"] = "not an image"
    save("one_pixel.png", Image.new("RGB", (1, 1), (10, 200, 30)))
    # A decompression bomb: a tiny PNG whose header claims far too many pixels.
    bomb = Image.new("1", (20000, 20000))
    bomb.save(d / "bomb.png", optimize=True)
    out["bomb.png"] = "decompression bomb"
    save("cmyk.jpg", _photo().convert("CMYK"))
    save("gray16.png", Image.fromarray((np.arange(64 * 80).reshape(64, 80) * 10).astype(np.uint16)))
    save("palette.png", _photo().convert("P", palette=Image.Palette.ADAPTIVE))
    save("la.png", _photo().convert("LA"))
    rgba = _photo().convert("RGBA")
    rgba.putalpha(128)
    save("rgba.png", rgba)
    frames = [_photo(), Image.new("RGB", (80, 64), "red")]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = "score"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    save("exif_rotated.jpg", _photo(40, 100), exif=exif.tobytes())
    save("gray.png", _photo().convert("L"))
    save("bilevel.png", _photo().convert("1"))
    save("float.tif", Image.fromarray(np.linspace(0, 1, 64 * 80, dtype=np.float32).reshape(64, 80)))
    (d / "folder.jpg").mkdir()
    out["folder.jpg"] = "is a folder"
    out["missing.jpg"] = "no such file"
    return out


def array_corpus() -> list[tuple[str, object, str]]:
    """(label, input, expected outcome) for in-memory inputs."""
    rng = np.random.default_rng(0)
    nan = rng.random((32, 32, 3))
    nan[3, 4, 1] = np.nan
    inf = rng.random((32, 32, 3))
    inf[0, 0, 0] = np.inf
    return [
        ("uint8 HxWx3", rng.integers(0, 256, (32, 40, 3), dtype=np.uint8), "score"),
        ("uint8 HxW", rng.integers(0, 256, (32, 40), dtype=np.uint8), "score"),
        ("uint8 HxWx1", rng.integers(0, 256, (32, 40, 1), dtype=np.uint8), "score"),
        ("uint8 HxWx4", rng.integers(0, 256, (32, 40, 4), dtype=np.uint8), "score"),
        ("uint16", rng.integers(0, 65536, (32, 40, 3), dtype=np.uint16), "score"),
        ("float64 [0,1]", rng.random((32, 40, 3)), "score"),
        ("tensor CxHxW", torch.rand(3, 32, 40), "score"),
        ("tensor uint8", torch.randint(0, 256, (1, 32, 40), dtype=torch.uint8), "score"),
        ("NaN array", nan, "NaN or infinite"),
        ("inf array", inf, "NaN or infinite"),
        ("float out of range", rng.random((8, 8, 3)) * 255, "must lie in [0, 1]"),
        ("int64 array", rng.integers(0, 255, (8, 8, 3)), "unsupported dtype"),
        ("bool array", np.zeros((8, 8, 3), bool), "unsupported dtype"),
        ("5 channels", np.zeros((8, 8, 5), np.uint8), "expected shape"),
        ("1-D array", np.zeros(10, np.uint8), "expected shape"),
        ("empty array", np.zeros((0, 8, 3), np.uint8), "no pixels"),
        ("tensor 2 channels", torch.rand(2, 8, 8), "expected a CxHxW"),
        ("tensor NaN", torch.full((3, 8, 8), float("nan")), "NaN or infinite"),
        ("a dict", {"not": "an image"}, "unsupported input type"),
        ("None", None, "unsupported input type"),
    ]


def write_corrupt_exif_jpeg(path: Path) -> Path:
    """A JPEG that decodes, with an EXIF block whose one tag claims more data than the block holds: Pillow warns."""
    import struct

    jpg = io.BytesIO()
    _photo(40, 60).save(jpg, "JPEG", quality=90)
    data = jpg.getvalue()
    tiff = b"II*\x00" + struct.pack("<IHHHII", 8, 1, 0x010E, 2, 1000, 26) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    return path
