"""Synthetic distortions with known quality order (RankIQA supplementary, section 3).

Every family is a plain function ``(image, level, rng) -> image`` registered in
:data:`DISTORTIONS`. Images are HxWx3 ``uint8`` RGB arrays in and out; ``level``
runs from 1 (mildest) to :func:`num_levels` (strongest); ``rng`` is a
``numpy.random.Generator``. Use :func:`apply_distortion` for checked arguments,
seeds given as ints, and level 0 (the clean image).

The parameter tables (:data:`LEVELS`) are the paper's. Where the paper lists a
TID2013 table from strongest to mildest (mean shift down, the colour
quantisation palette sizes) it is stored mildest first so that quality always
falls with the level.

Named sets (:data:`SETS`): ``live`` (4 families x 5 levels), ``tid2013`` (the
17 synthesisable TID2013 types; mean shift and contrast change in both
directions make 19 families x 4 levels), ``mlive`` (2 combined families x 9
versions) and ``all``.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image
from scipy import fft as sfft
from scipy import ndimage, signal

from rankiqa._names import unknown_name_message
from rankiqa.protocols import pad_to_min_size

__all__ = [
    "DISTORTIONS",
    "LEVELS",
    "SETS",
    "apply_distortion",
    "num_levels",
    "rank_level",
    "resolve_set",
    "gaussian_blur",
    "jpeg_compress",
    "jp2k_compress",
    "jp2k_compress_bpp",
    "decode_rgb",
]

Distortion = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

#: Smallest side JPEG 2000 encodes at; see :func:`jp2k_compress`.
JP2K_MIN_SIDE = 384


# ----------------------------------------------------------------------------- helpers

def _to_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float, mode: str = "symmetric") -> np.ndarray:
    """Blur an HxWx3 uint8 image with a 2-D circular Gaussian of ``sigma`` pixels.

    ``mode`` is ``"symmetric"`` (mirror the border, as RankIQA's generator) or
    ``"zero"`` (zero padding, MATLAB ``imfilter``'s default, used by LIVE).
    Large kernels go through the FFT on a padded copy, which is exact up to the
    4-sigma truncation and some 30x faster than direct convolution at sigma 33.
    """
    x = image.astype(np.float32)
    if sigma < 3.0:
        nd_mode = "reflect" if mode == "symmetric" else "constant"
        out = ndimage.gaussian_filter(x, sigma=(sigma, sigma, 0), mode=nd_mode, truncate=4.0)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
    pad = int(np.ceil(4.0 * sigma))
    np_mode = "symmetric" if mode == "symmetric" else "constant"
    padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode=np_mode)
    spec = sfft.rfft2(padded, axes=(0, 1), workers=1)
    # fourier_gaussian needs the full-length size of the real transform's last axis.
    spec = ndimage.fourier_gaussian(spec, sigma=(sigma, sigma, 0), n=padded.shape[1], axis=1)
    out = sfft.irfft2(spec, s=padded.shape[:2], axes=(0, 1), workers=1)[pad:-pad, pad:-pad]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


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


def _add_noise(x: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    return x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(std)


_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                dtype=np.float32)
_YCC_INV = np.linalg.inv(_YCC).astype(np.float32)


def _rgb_to_ycc(x: np.ndarray) -> np.ndarray:
    return x @ _YCC.T


def _ycc_to_rgb(y: np.ndarray) -> np.ndarray:
    return y @ _YCC_INV.T


def _shift(channel: np.ndarray, dx: int) -> np.ndarray:
    """Shift a 2-D channel horizontally by ``dx`` pixels, repeating the edge column."""
    if dx == 0:
        return channel.copy()
    w = channel.shape[1]
    idx = np.clip(np.arange(w) - dx, 0, w - 1)
    return channel[:, idx]


def _area_count(n: int, image: np.ndarray) -> int:
    # TID2013's counts are for its 512x384 images: keep that density on larger
    # images, but never go below the table on smaller ones (training crops),
    # where scaling down would collapse all levels onto one count.
    h, w = image.shape[:2]
    return max(n, int(round(n * h * w / (512 * 384))))


# ----------------------------------------------------------------------------- tables

LEVELS: dict[str, tuple] = {
    # LIVE set, 5 levels (supplementary section 3; RankIQA's generator)
    "gblur": (1.2, 2.5, 6.5, 15.2, 33.2),  # Gaussian sigma, pixels
    "wn": (0.001, 0.006, 0.022, 0.088, 1.0),  # noise variance on [0,1] RGB
    "jpeg": (43, 12, 7, 4, 0),  # JPEG quality
    "jp2k": (52, 150, 343, 600, 1200),  # compression ratio vs 24-bit RGB
    # LIVE-wide set, 8 levels: the same distortions spanning LIVE's own parameter
    # range (its mild half is milder than the paper's first level); rankiqa's choice.
    "gblur_wide": (0.5, 0.8, 1.2, 1.8, 2.5, 4.0, 6.5, 15.2),
    "wn_wide": (0.0002, 0.0006, 0.001, 0.003, 0.006, 0.022, 0.088, 1.0),
    "jpeg_wide": (90, 70, 50, 35, 20, 12, 7, 4),
    "jp2k_wide": (12, 24, 52, 100, 150, 343, 600, 1200),
    # TID2013 set, 4 levels
    "tid_awgn": (0.001, 0.005, 0.01, 0.05),  # #01 variance, RGB
    "tid_color_noise": (0.0140, 0.0198, 0.0343, 0.0524),  # #02 variance, YCbCr chroma
    "tid_hf_noise": (0.001, 0.005, 0.01, 0.05),  # #05 variance of high-passed noise
    "tid_impulse_noise": (0.005, 0.01, 0.05, 0.1),  # #06 salt & pepper density
    "tid_quantization_noise": (27, 39, 55, 76),  # #07 quantisation step (0..255)
    "tid_gblur": (1.2, 2.5, 6.5, 15.2),  # #08 sigma
    "tid_denoising": (0.001, 0.005, 0.01, 0.05),  # #09 variance before denoising
    "tid_jpeg": (43, 12, 7, 4),  # #10 quality
    "tid_jp2k": (52, 150, 343, 600),  # #11 ratio
    "tid_pattern_noise": (30, 70, 150, 300),  # #14 moved 15x15 patches per 512x384
    "tid_block": (2, 4, 8, 16),  # #15 32x32 colour blocks per 512x384
    "tid_mean_shift_down": (-15, -30, -45, -60),  # #16 shift (0..255)
    "tid_mean_shift_up": (15, 30, 45, 60),  # #16
    "tid_contrast_down": (0.85, 0.7, 0.55, 0.4),  # #17 contrast factor
    "tid_contrast_up": (1.2, 1.4, 1.6, 1.8),  # #17
    "tid_saturation": (0.4, 0.0, -0.4, -0.8),  # #18 chroma factor
    "tid_multiplicative_noise": (0.05, 0.09, 0.13, 0.2),  # #19 variance
    "tid_color_quantization": (64, 32, 16, 8),  # #22 palette size, with dither
    "tid_chromatic_aberration": ((2, 1), (6, 3), (10, 5), (14, 7)),  # #23 (R, B) shift
    # MLIVE: 3 blur levels x 3 second-stage levels; level k = 3*(b-1) + s
    "mlive_gblur_jpeg": tuple((b, q) for b in (1.2, 2.5, 6.5) for q in (43, 12, 7)),
    "mlive_gblur_wn": tuple((b, v) for b in (1.2, 2.5, 6.5) for v in (0.001, 0.006, 0.022)),
}


# ----------------------------------------------------------------------------- LIVE-type distortions
# One parametric function per distortion; each family is it plus a level table.

def _blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_blur(image, sigma)


def _white_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(_add_noise(_to_float(image), np.sqrt(variance), rng))


def _jpeg_q(image: np.ndarray, quality: int, rng: np.random.Generator) -> np.ndarray:
    return jpeg_compress(image, quality)


def _jp2k_ratio(image: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    return jp2k_compress(image, ratio)[0]


def _leveled(name: str, distort: Callable[[np.ndarray, Any, np.random.Generator], np.ndarray],
             doc: str) -> Distortion:
    """The family ``name``: ``distort`` at the parameter ``LEVELS[name][level - 1]``."""
    def family(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
        return distort(image, LEVELS[name][level - 1], rng)

    family.__name__ = family.__qualname__ = f"_{name}"
    family.__doc__ = doc
    return family


# ----------------------------------------------------------------------------- TID2013 set

def _tid_color_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#02 Gaussian noise in the colour (Cb, Cr) components of YCbCr."""
    ycc = _rgb_to_ycc(_to_float(image))
    std = np.float32(np.sqrt(LEVELS["tid_color_noise"][level - 1]))
    ycc[..., 1:] += rng.standard_normal(ycc[..., 1:].shape, dtype=np.float32) * std
    return _to_uint8(_ycc_to_rgb(ycc))


def _tid_hf_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#05 Gaussian noise high-pass filtered in the Fourier domain, rescaled to the variance."""
    x = _to_float(image)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    h, w = x.shape[:2]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    highpass = 1.0 - np.exp(-(fx**2 + fy**2) / (2 * 0.1**2))
    noise = np.fft.irfft2(np.fft.rfft2(noise, axes=(0, 1)) * highpass[..., None], s=(h, w), axes=(0, 1))
    noise *= np.sqrt(LEVELS["tid_hf_noise"][level - 1]) / max(float(noise.std()), 1e-12)
    return _to_uint8(x + noise.astype(np.float32))


def _tid_impulse_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#06 salt & pepper noise: each sample becomes 0 or 255 with the given density."""
    density = LEVELS["tid_impulse_noise"][level - 1]
    out = image.copy()
    u = rng.random(image.shape)
    out[u < density / 2] = 0
    out[(u >= density / 2) & (u < density)] = 255
    return out


def _tid_quantization_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#07 uniform quantisation of each channel with the given step (cell centres).

    PSNR falls with the step on every image, but SSIM can rise between two
    steps on some photos (1-2 in 12 BSDS photos), depending on how the cell
    boundaries meet the image's histogram; it falls on average.
    """
    q = LEVELS["tid_quantization_noise"][level - 1]
    x = (np.floor(image.astype(np.float32) / q) * q + q / 2.0)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _tid_denoising(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#09 white noise, then a denoiser.

    TID2013 used BM3D, whose reference code is not free software. We use
    ``scipy.signal.wiener`` (BSD; the local adaptive Wiener filter of MATLAB's
    ``wiener2``, 5x5 window) given the true noise power, which leaves the same
    kind of artefacts: residual noise on edges and smoothed texture.
    """
    var = LEVELS["tid_denoising"][level - 1]
    noisy = _add_noise(_to_float(image), np.sqrt(var), rng)
    out = np.stack([signal.wiener(noisy[..., c], (5, 5), noise=var) for c in range(3)], axis=-1)
    return _to_uint8(out)


def _tid_pattern_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#14 non-eccentricity pattern noise: 15x15 patches copied from nearby places."""
    out = image.copy()
    h, w = image.shape[:2]
    p = 15
    if h <= p or w <= p:
        return out
    for _ in range(_area_count(LEVELS["tid_pattern_noise"][level - 1], image)):
        y, x = int(rng.integers(0, h - p)), int(rng.integers(0, w - p))
        dy, dx = rng.integers(-2 * p, 2 * p + 1, size=2)
        sy, sx = int(np.clip(y + dy, 0, h - p)), int(np.clip(x + dx, 0, w - p))
        out[y:y + p, x:x + p] = image[sy:sy + p, sx:sx + p]
    return out


def _tid_block(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#15 local block-wise distortion: 32x32 blocks replaced by one random colour."""
    out = image.copy()
    h, w = image.shape[:2]
    b = min(32, h, w)
    for _ in range(_area_count(LEVELS["tid_block"][level - 1], image)):
        y, x = int(rng.integers(0, h - b + 1)), int(rng.integers(0, w - b + 1))
        out[y:y + b, x:x + b] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return out


def _tid_mean_shift_down(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#16 mean shift towards black by 15 .. 60 grey levels."""
    return np.clip(image.astype(np.int16) + LEVELS["tid_mean_shift_down"][level - 1], 0, 255).astype(np.uint8)


def _tid_mean_shift_up(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#16 mean shift towards white by 15 .. 60 grey levels."""
    return np.clip(image.astype(np.int16) + LEVELS["tid_mean_shift_up"][level - 1], 0, 255).astype(np.uint8)


def _contrast(image: np.ndarray, factor: float) -> np.ndarray:
    x = image.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - mean) * factor + mean + 0.5, 0, 255).astype(np.uint8)


def _tid_contrast_down(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#17 contrast reduction around the channel means, factor 0.85 .. 0.4."""
    return _contrast(image, LEVELS["tid_contrast_down"][level - 1])


def _tid_contrast_up(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#17 contrast increase around the channel means, factor 1.2 .. 1.8 (clipped)."""
    return _contrast(image, LEVELS["tid_contrast_up"][level - 1])


def _tid_saturation(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#18 colour saturation change: chroma (Cb, Cr) scaled by 0.4, 0, -0.4, -0.8."""
    ycc = _rgb_to_ycc(_to_float(image))
    ycc[..., 1:] *= np.float32(LEVELS["tid_saturation"][level - 1])
    return _to_uint8(_ycc_to_rgb(ycc))


def _tid_multiplicative_noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#19 multiplicative Gaussian (speckle) noise: x * (1 + n), n ~ N(0, variance)."""
    x = _to_float(image)
    std = np.float32(np.sqrt(LEVELS["tid_multiplicative_noise"][level - 1]))
    return _to_uint8(x * (1.0 + rng.standard_normal(x.shape, dtype=np.float32) * std))


def _tid_color_quantization(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#22 colour quantisation to a 64, 32, 16, 8 colour palette with Floyd-Steinberg dither."""
    colors = LEVELS["tid_color_quantization"][level - 1]
    pal = Image.fromarray(image).quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(pal.convert("RGB"))


def _tid_chromatic_aberration(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """#23 chromatic aberration: R and B shifted in opposite directions, then a slight blur."""
    r_shift, b_shift = LEVELS["tid_chromatic_aberration"][level - 1]
    out = np.stack([_shift(image[..., 0], r_shift), image[..., 1], _shift(image[..., 2], -b_shift)], axis=-1)
    return gaussian_blur(out, 0.5)


# ----------------------------------------------------------------------------- MLIVE

def _mlive_gblur_jpeg(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """MLIVE blur (sigma 1.2, 2.5, 6.5) then JPEG (quality 43, 12, 7): 9 versions."""
    sigma, quality = LEVELS["mlive_gblur_jpeg"][level - 1]
    return jpeg_compress(gaussian_blur(image, sigma), quality)


def _mlive_gblur_wn(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """MLIVE blur (sigma 1.2, 2.5, 6.5) then white noise (variance .001, .006, .022): 9 versions."""
    sigma, var = LEVELS["mlive_gblur_wn"][level - 1]
    return _to_uint8(_add_noise(_to_float(gaussian_blur(image, sigma)), np.sqrt(var), rng))


DISTORTIONS: dict[str, Distortion] = {
    "gblur": _leveled("gblur", _blur, "Gaussian blur, sigma 1.2 .. 33.2, mirrored border."),
    "wn": _leveled("wn", _white_noise, "White Gaussian noise on [0, 1] RGB, variance 0.001 .. 1, clipped."),
    "jpeg": _leveled("jpeg", _jpeg_q, "JPEG at quality 43, 12, 7, 4, 0 (libjpeg treats 0 as 1)."),
    "jp2k": _leveled("jp2k", _jp2k_ratio, "JPEG 2000 at ratio 52 .. 1200 (OpenJPEG, irreversible, mct=1)."),
    "gblur_wide": _leveled("gblur_wide", _blur, "Gaussian blur, sigma 0.5 .. 15.2 (LIVE's range)."),
    "wn_wide": _leveled("wn_wide", _white_noise, "White noise, variance 0.0002 .. 1 (LIVE's range)."),
    "jpeg_wide": _leveled("jpeg_wide", _jpeg_q, "JPEG at quality 90 .. 4 (LIVE's range)."),
    "jp2k_wide": _leveled("jp2k_wide", _jp2k_ratio, "JPEG 2000 at ratio 12 .. 1200 (LIVE's range)."),
    "tid_awgn": _leveled("tid_awgn", _white_noise, "#01 additive white Gaussian noise in RGB."),
    "tid_color_noise": _tid_color_noise,
    "tid_hf_noise": _tid_hf_noise,
    "tid_impulse_noise": _tid_impulse_noise,
    "tid_quantization_noise": _tid_quantization_noise,
    "tid_gblur": _leveled("tid_gblur", _blur, "#08 Gaussian blur, sigma 1.2 .. 15.2."),
    "tid_denoising": _tid_denoising,
    "tid_jpeg": _leveled("tid_jpeg", _jpeg_q, "#10 JPEG at quality 43, 12, 7, 4."),
    "tid_jp2k": _leveled("tid_jp2k", _jp2k_ratio, "#11 JPEG 2000 at ratio 52, 150, 343, 600."),
    "tid_pattern_noise": _tid_pattern_noise,
    "tid_block": _tid_block,
    "tid_mean_shift_down": _tid_mean_shift_down,
    "tid_mean_shift_up": _tid_mean_shift_up,
    "tid_contrast_down": _tid_contrast_down,
    "tid_contrast_up": _tid_contrast_up,
    "tid_saturation": _tid_saturation,
    "tid_multiplicative_noise": _tid_multiplicative_noise,
    "tid_color_quantization": _tid_color_quantization,
    "tid_chromatic_aberration": _tid_chromatic_aberration,
    "mlive_gblur_jpeg": _mlive_gblur_jpeg,
    "mlive_gblur_wn": _mlive_gblur_wn,
}

#: Families whose output depends on ``rng`` (the others are deterministic).
STOCHASTIC = frozenset({
    "wn", "wn_wide", "tid_awgn", "tid_color_noise", "tid_hf_noise", "tid_impulse_noise", "tid_denoising",
    "tid_pattern_noise", "tid_block", "tid_multiplicative_noise", "mlive_gblur_wn",
})

SETS: dict[str, tuple[str, ...]] = {
    "live": ("gblur", "wn", "jpeg", "jp2k"),
    "tid2013": tuple(n for n in DISTORTIONS if n.startswith("tid_")),
    "mlive": ("mlive_gblur_jpeg", "mlive_gblur_wn"),
    "live_wide": ("gblur_wide", "wn_wide", "jpeg_wide", "jp2k_wide"),
}
SETS["all"] = tuple(DISTORTIONS)


def num_levels(name: str) -> int:
    """Number of distortion levels of a family (level 0, the clean image, not counted)."""
    _check_name(name)
    return len(LEVELS[name])


def rank_level(name: str, level: int) -> int:
    """The rank of a level used to decide which versions are comparable.

    Single distortions rank by level. The MLIVE families rank their 3x3
    versions by combined severity ``b + s - 1`` (blur level b, second stage
    s, 1..3 each), as the supplementary orders them: versions of equal combined
    severity are not compared, any two of different combined severity are
    (the one with the larger blur+second-stage sum is the worse one).
    """
    if name.startswith("mlive_") and level > 0:
        b, s = divmod(level - 1, 3)
        return b + s + 1
    return level


def resolve_set(name_or_names: str | Sequence[str]) -> tuple[str, ...]:
    """Family names of a named set (``live``, ``tid2013``, ``mlive``, ``all``),
    a comma-separated list of sets/families, or a sequence of family names."""
    items = name_or_names.split(",") if isinstance(name_or_names, str) else list(name_or_names)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if item in SETS:
            out.extend(SETS[item])
        else:
            if item not in DISTORTIONS:
                raise ValueError(unknown_name_message("distortion set or family", item,
                                                      list(SETS) + list(DISTORTIONS)))
            out.append(item)
    if not out:
        raise ValueError("no distortion family given")
    return tuple(dict.fromkeys(out))


def _check_name(name: str) -> None:
    if name not in DISTORTIONS:
        raise ValueError(unknown_name_message("distortion family", name, list(DISTORTIONS)))


def apply_distortion(name: str, image: np.ndarray, level: int,
                     rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Distort ``image`` (HxWx3 uint8 RGB) with family ``name`` at ``level``.

    Level 0 returns a copy of the clean image. ``rng`` is a Generator, an int
    seed or None (fresh entropy); the same seed gives identical output.
    """
    _check_name(name)
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape HxWx3, got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"level must be an int, got {level!r}")
    n = len(LEVELS[name])
    if not 0 <= level <= n:
        raise ValueError(f"level {level} out of range for {name!r}: 0..{n}")
    if level == 0:
        return image.copy()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return DISTORTIONS[name](np.ascontiguousarray(image), int(level), gen)
