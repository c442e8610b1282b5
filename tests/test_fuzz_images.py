"""Seeded fuzzing of rankiqa.io.load_image: every mutated file decodes or raises ImageLoadError.

A few hundred cases run in the default suite. A longer run (documented in the README):
RANKIQA_FUZZ_CASES=20000 python -m pytest tests/test_fuzz_images.py -k mutated
"""

from __future__ import annotations

import io
import os
import signal

import numpy as np
import pytest
from PIL import Image

from rankiqa.errors import ImageLoadError
from rankiqa.io import load_image
from conftest import smooth_photo

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp"}
CASES = int(os.environ.get("RANKIQA_FUZZ_CASES", "300"))


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(smooth_photo(40, 48, seed=1))
    if fmt == "GIF":
        img = img.convert("P")
    img.save(buf, format=fmt, **({"exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"} if fmt == "JPEG" else {}))
    return buf.getvalue()


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One seeded mutation: bit flips, overwritten bytes, cuts, repeats or inserted junk."""
    b = bytearray(data)
    kind = int(rng.integers(6))
    if kind == 0:  # flip a few bits
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # overwrite a run with random bytes, more often in the header
        i = int(rng.integers(min(len(b), 64))) if rng.random() < 0.5 else int(rng.integers(len(b)))
        n = int(rng.integers(1, 16))
        b[i:i + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    elif kind == 2:  # truncate
        b = b[: int(rng.integers(1, len(b)))]
    elif kind == 3:  # repeat a slice (duplicated chunks / markers)
        i, j = sorted(int(x) for x in rng.integers(0, len(b), 2))
        b[j:j] = b[i:i + 64]
    elif kind == 4:  # insert junk
        i = int(rng.integers(len(b)))
        b[i:i] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    else:  # huge numbers in the header: sizes, counts, offsets
        i = int(rng.integers(min(len(b), 48)))
        b[i:i + 4] = b"\xff\xff\xff\x7f"
    return bytes(b)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutated_files_decode_or_raise_image_load_error(fmt, tmp_path):
    rng = np.random.default_rng(list(fmt.encode()))
    clean = _encoded(fmt)
    path = tmp_path / f"case{FORMATS[fmt]}"
    outcomes = {"decoded": 0, "refused": 0}
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(CASES // len(FORMATS)):
            data = mutate(clean, rng)
            path.write_bytes(data)
            signal.alarm(10)  # a hang fails the case instead of the whole run
            try:
                x = load_image(path)
                assert x.dim() == 3 and x.shape[0] == 3 and bool(((x >= 0) & (x <= 1)).all()), case
                outcomes["decoded"] += 1
            except ImageLoadError as exc:
                assert str(path) in str(exc)
                outcomes["refused"] += 1
            except _Hang:
                pytest.fail(f"{fmt} case {case}: load_image hung on {data[:32]!r}...")
            except Exception as exc:  # noqa: BLE001 - any other exception is the bug being looked for
                pytest.fail(f"{fmt} case {case}: {type(exc).__name__}: {exc}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert outcomes["refused"] > 0  # the mutations do break files


def _png_header(w: int, h: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


@pytest.mark.parametrize("w, h", [(100_000, 100_000), (2**31 - 1, 2**31 - 1), (1, 2**30)])
def test_huge_declared_sizes_are_refused_without_allocating(tmp_path, w, h):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(w, h))
    with pytest.raises(ImageLoadError, match="decompression bomb|corrupt|too large"):
        load_image(path)


def test_tiff_with_endless_ifd_chain(tmp_path):
    # A TIFF whose first directory points back at itself: readers must not loop forever.
    import struct

    entries = [(256, 3, 1, 8), (257, 3, 1, 8), (258, 3, 1, 8), (262, 3, 1, 1), (273, 4, 1, 8), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    data = b"II*\x00" + struct.pack("<I", 72) + bytes(64) + ifd + struct.pack("<I", 72)  # next IFD = itself
    path = tmp_path / "loop.tif"
    path.write_bytes(data)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        x = load_image(path)  # the first frame is fine; what matters is returning at all
        assert x.shape == (3, 8, 8)
    except ImageLoadError:
        pass
    except _Hang:
        pytest.fail("load_image looped on a self-referencing TIFF directory")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_tiff_fuzz_case_1975(tmp_path):
    # Found by the long run (RANKIQA_FUZZ_CASES=20000): Pillow raised TypeError("Missing
    # dimensions") from deep inside its TIFF plugin, counting the frames of a second directory
    # without dimensions. Replayed from the same seeded stream.
    rng = np.random.default_rng(list(b"TIFF"))
    clean = _encoded("TIFF")
    for _ in range(1976):
        data = mutate(clean, rng)
    path = tmp_path / "case1975.tif"
    path.write_bytes(data)
    with Image.open(path) as im:
        im.load()
        with pytest.raises(TypeError):  # counting the frames fails (if Pillow fixes it, this test says so)
            im.n_frames
    with pytest.raises(ImageLoadError, match="corrupt image data .TypeError"):
        load_image(path)


@pytest.mark.skipif(not os.environ.get("RANKIQA_FUZZ_HYPOTHESIS"), reason="long run: set RANKIQA_FUZZ_HYPOTHESIS=N")
def test_hypothesis_fuzz(tmp_path):
    """Coverage-blind but shrinking: hypothesis edits valid files byte by byte (run once, see the README)."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    seeds = {fmt: _encoded(fmt) for fmt in FORMATS}

    @hypothesis.settings(max_examples=int(os.environ["RANKIQA_FUZZ_HYPOTHESIS"]), deadline=None, database=None)
    @hypothesis.given(fmt=st.sampled_from(sorted(FORMATS)),
                      edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=12),
                      cut=st.integers(1, 1 << 16))
    def check(fmt, edits, cut):
        b = bytearray(seeds[fmt])
        for i, v in edits:
            b[i % len(b)] = v
        path = tmp_path / f"h{FORMATS[fmt]}"
        path.write_bytes(bytes(b[:cut]))
        try:
            load_image(path)
        except ImageLoadError:
            pass

    check()
