"""Compression: JPEG and JPEG 2000 round trips (LIVE, TID2013, KADID sets)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from rankiqa.protocols import pad_to_min_size
from rankiqa.train.distortions._common import leveled

__all__ = ["JP2K_MIN_SIDE", "decode_rgb", "jpeg_compress", "jp2k_compress", "jp2k_compress_bpp", "LEVELS",
           "FAMILIES"]

#: Smallest side JPEG 2000 encodes at; see :func:`jp2k_compress`.
JP2K_MIN_SIDE = 384


def _encode(image: np.ndarray, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **params)
    return buf.getvalue()


def decode_rgb(data: bytes) -> np.ndarray:
    """HxWx3 uint8 RGB array from encoded image bytes."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip with Pillow (libjpeg, 4:2:0, standard tables).

    Quality 0 is passed through; libjpeg clamps it to 1, the coarsest tables.
    """
    return decode_rgb(_encode(image, "JPEG", quality=int(quality), subsampling=2))


def jp2k_compress(image: np.ndarray, ratio: float) -> tuple[np.ndarray, float]:
    """JPEG 2000 round trip at a target compression ratio against 24-bit RGB.

    OpenJPEG through Pillow: irreversible 9/7 wavelet, colour transform (mct=1),
    one quality layer. Returns the decoded image and the ratio achieved on the
    encoded image.

    The codestream has a floor of a few hundred bytes, so on small images high
    ratios cannot be reached (at ratio 1200 a 128x128 image stops at ~185).
    Images under :data:`JP2K_MIN_SIDE` a side are therefore mirror-padded to
    it, encoded, and cropped back: the distortion keeps the intended bit rate.
    """
    h, w = image.shape[:2]
    padded = pad_to_min_size(image, JP2K_MIN_SIDE, channels_last=True)
    data = _encode(np.ascontiguousarray(padded), "JPEG2000", quality_mode="rates",
                   quality_layers=[float(ratio)], irreversible=True, mct=1)
    achieved = padded.size / len(data)  # size = H*W*3 bytes of 24-bit RGB
    out = decode_rgb(data)
    dy, dx = (padded.shape[0] - h) // 2, (padded.shape[1] - w) // 2
    return np.ascontiguousarray(out[dy:dy + h, dx:dx + w]), achieved


def jp2k_compress_bpp(image: np.ndarray, bpp: float) -> np.ndarray:
    """JPEG 2000 round trip at a target bit rate in bits per pixel (24 / ratio)."""
    return jp2k_compress(image, 24.0 / bpp)[0]


def _jpeg_q(image: np.ndarray, quality: int, rng: np.random.Generator) -> np.ndarray:
    return jpeg_compress(image, quality)


def _jp2k_ratio(image: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    return jp2k_compress(image, ratio)[0]


LEVELS: dict[str, tuple] = {
    "jpeg": (43, 12, 7, 4, 0),  # JPEG quality (RankIQA's LIVE set)
    "jp2k": (52, 150, 343, 600, 1200),  # compression ratio vs 24-bit RGB
    "jpeg_wide": (90, 70, 50, 35, 20, 12, 7, 4),  # LIVE's own range, 8 levels
    "jp2k_wide": (12, 24, 52, 100, 150, 343, 600, 1200),
    "tid_jpeg": (43, 12, 7, 4),  # #10 quality
    "tid_jp2k": (52, 150, 343, 600),  # #11 ratio
    "kadid_jpeg": (43, 30, 18, 9, 4),  # #10 quality
    "kadid_jp2k": (16, 32, 60, 120, 240),  # #09 ratio
}

FAMILIES = {
    "jpeg": leveled(LEVELS, "jpeg", _jpeg_q, "JPEG at quality 43, 12, 7, 4, 0 (libjpeg treats 0 as 1)."),
    "jp2k": leveled(LEVELS, "jp2k", _jp2k_ratio, "JPEG 2000 at ratio 52 .. 1200 (OpenJPEG, irreversible, mct=1)."),
    "jpeg_wide": leveled(LEVELS, "jpeg_wide", _jpeg_q, "JPEG at quality 90 .. 4 (LIVE's range)."),
    "jp2k_wide": leveled(LEVELS, "jp2k_wide", _jp2k_ratio, "JPEG 2000 at ratio 12 .. 1200 (LIVE's range)."),
    "tid_jpeg": leveled(LEVELS, "tid_jpeg", _jpeg_q, "#10 JPEG at quality 43, 12, 7, 4."),
    "tid_jp2k": leveled(LEVELS, "tid_jp2k", _jp2k_ratio, "#11 JPEG 2000 at ratio 52, 150, 343, 600."),
    "kadid_jpeg": leveled(LEVELS, "kadid_jpeg", _jpeg_q, "KADID #10 JPEG at quality 43 .. 4."),
    "kadid_jp2k": leveled(LEVELS, "kadid_jp2k", _jp2k_ratio, "KADID #09 JPEG 2000 at ratio 16 .. 240."),
}
