"""Noise: white, chroma, high-frequency, impulse, multiplicative, denoised (TID2013, KADID), sensor (capture)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from rankiqa.train.distortions._common import (add_noise, leveled, linear_to_srgb, rgb_to_ycc, srgb_to_linear,
                                               to_float, to_uint8, ycc_to_rgb)

__all__ = ["LEVELS", "FAMILIES", "STOCHASTIC", "SHARED_DRAW"]


def _white_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    return to_uint8(add_noise(to_float(image), np.sqrt(variance), rng))


def _chroma_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise in the colour (Cb, Cr) components of YCbCr."""
    ycc = rgb_to_ycc(to_float(image))
    ycc[..., 1:] += rng.standard_normal(ycc[..., 1:].shape, dtype=np.float32) * np.float32(np.sqrt(variance))
    return to_uint8(ycc_to_rgb(ycc))


def _ycc_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise in every YCbCr component, the chroma components at 4x the luma variance."""
    ycc = rgb_to_ycc(to_float(image))
    std = np.sqrt(np.array([variance / 4, variance, variance], np.float32))
    return to_uint8(ycc_to_rgb(ycc + rng.standard_normal(ycc.shape, dtype=np.float32) * std))


def _hf_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise high-pass filtered in the Fourier domain, rescaled to the variance."""
    x = to_float(image)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    h, w = x.shape[:2]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    highpass = 1.0 - np.exp(-(fx**2 + fy**2) / (2 * 0.1**2))
    noise = np.fft.irfft2(np.fft.rfft2(noise, axes=(0, 1)) * highpass[..., None], s=(h, w), axes=(0, 1))
    noise *= np.sqrt(variance) / max(float(noise.std()), 1e-12)
    return to_uint8(x + noise.astype(np.float32))


def _impulse(image: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Salt & pepper noise: each sample becomes 0 or 255 with the given density."""
    out = image.copy()
    u = rng.random(image.shape)
    out[u < density / 2] = 0
    out[(u >= density / 2) & (u < density)] = 255
    return out


def _quantize_step(image: np.ndarray, q: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform quantisation of each channel with step ``q`` (cell centres).

    PSNR falls with the step on every image, but SSIM can rise between two
    steps on some photos (1-2 in 12 BSDS photos), depending on how the cell
    boundaries meet the image's histogram; it falls on average.
    """
    x = (np.floor(image.astype(np.float32) / q) * q + q / 2.0)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _denoised(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """White noise, then a denoiser.

    TID2013 used BM3D (KADID-10k a learned denoiser), whose code is not free
    software. We use ``scipy.signal.wiener`` (BSD; the local adaptive Wiener
    filter of MATLAB's ``wiener2``, 5x5 window) given the true noise power,
    which leaves the same kind of artefacts: residual noise on edges and
    smoothed texture.
    """
    noisy = add_noise(to_float(image), np.sqrt(variance), rng)
    out = np.stack([signal.wiener(noisy[..., c], (5, 5), noise=variance) for c in range(3)], axis=-1)
    return to_uint8(out)


def _multiplicative(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative Gaussian (speckle) noise: x * (1 + n), n ~ N(0, variance)."""
    x = to_float(image)
    return to_uint8(x * (1.0 + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(np.sqrt(variance))))


def _sensor_noise(image: np.ndarray, gain: float, rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent sensor noise: Poisson-Gaussian in linear light, with chroma blotches.

    Variance ``gain * x + (gain / 8)**2 * 4`` per channel in linear light
    (shot noise plus read noise), each channel drawn on its own (colour noise);
    half of it is low-passed (sigma 1), as demosaicing correlates neighbouring
    pixels' noise into the coloured blotches of high-ISO photos.
    """
    lin = srgb_to_linear(to_float(image))
    std = np.sqrt(gain * lin + 4 * (gain / 8) ** 2)
    white = rng.standard_normal(lin.shape, dtype=np.float32)
    blotch = ndimage.gaussian_filter(rng.standard_normal(lin.shape, dtype=np.float32), (1, 1, 0)) * 2.0
    return to_uint8(linear_to_srgb(lin + std * (0.7 * white + 0.7 * blotch)))


LEVELS: dict[str, tuple] = {
    "wn": (0.001, 0.006, 0.022, 0.088, 1.0),  # noise variance on [0,1] RGB (RankIQA's LIVE set)
    "wn_wide": (0.0002, 0.0006, 0.001, 0.003, 0.006, 0.022, 0.088, 1.0),  # LIVE's own range, 8 levels
    "tid_awgn": (0.001, 0.005, 0.01, 0.05),  # #01 variance, RGB
    "tid_color_noise": (0.0140, 0.0198, 0.0343, 0.0524),  # #02 variance, YCbCr chroma
    "tid_hf_noise": (0.001, 0.005, 0.01, 0.05),  # #05 variance of high-passed noise
    "tid_impulse_noise": (0.005, 0.01, 0.05, 0.1),  # #06 salt & pepper density
    "tid_quantization_noise": (27, 39, 55, 76),  # #07 quantisation step (0..255)
    "tid_denoising": (0.001, 0.005, 0.01, 0.05),  # #09 variance before denoising
    "tid_multiplicative_noise": (0.05, 0.09, 0.13, 0.2),  # #19 variance
    "kadid_white_noise": (0.001, 0.002, 0.004, 0.008, 0.016),  # #11 variance, RGB
    "kadid_color_noise": (0.0005, 0.001, 0.002, 0.004, 0.008),  # #12 chroma variance in YCbCr (luma / 4)
    "kadid_impulse_noise": (0.002, 0.005, 0.01, 0.02, 0.04),  # #13 density
    "kadid_multiplicative_noise": (0.005, 0.01, 0.025, 0.05, 0.1),  # #14 variance
    "kadid_denoise": (0.001, 0.002, 0.004, 0.008, 0.016),  # #15 variance before denoising
    "sensor_noise": (0.0005, 0.0015, 0.004, 0.01, 0.025),  # shot-noise gain in linear light
}

FAMILIES = {
    "wn": leveled(LEVELS, "wn", _white_noise, "White Gaussian noise on [0, 1] RGB, variance 0.001 .. 1, clipped."),
    "wn_wide": leveled(LEVELS, "wn_wide", _white_noise, "White noise, variance 0.0002 .. 1 (LIVE's range)."),
    "tid_awgn": leveled(LEVELS, "tid_awgn", _white_noise, "#01 additive white Gaussian noise in RGB."),
    "tid_color_noise": leveled(LEVELS, "tid_color_noise", _chroma_noise,
                               "#02 Gaussian noise in the colour (Cb, Cr) components of YCbCr."),
    "tid_hf_noise": leveled(LEVELS, "tid_hf_noise", _hf_noise,
                            "#05 Gaussian noise high-pass filtered in the Fourier domain, rescaled to the variance."),
    "tid_impulse_noise": leveled(LEVELS, "tid_impulse_noise", _impulse,
                                 "#06 salt & pepper noise: each sample becomes 0 or 255 with the given density."),
    "tid_quantization_noise": leveled(LEVELS, "tid_quantization_noise", _quantize_step,
                                      "#07 uniform quantisation of each channel with the given step (cell centres)."),
    "tid_denoising": leveled(LEVELS, "tid_denoising", _denoised,
                             "#09 white noise, then a local Wiener filter (stands in for BM3D)."),
    "tid_multiplicative_noise": leveled(LEVELS, "tid_multiplicative_noise", _multiplicative,
                                        "#19 multiplicative Gaussian (speckle) noise: x * (1 + n)."),
    "kadid_white_noise": leveled(LEVELS, "kadid_white_noise", _white_noise,
                                 "KADID #11 white Gaussian noise in RGB, variance 0.001 .. 0.016."),
    "kadid_color_noise": leveled(LEVELS, "kadid_color_noise", _ycc_noise,
                                 "KADID #12 white noise in the YCbCr components (chroma at 4x the luma variance)."),
    "kadid_impulse_noise": leveled(LEVELS, "kadid_impulse_noise", _impulse,
                                   "KADID #13 salt & pepper noise, density 0.002 .. 0.04."),
    "kadid_multiplicative_noise": leveled(LEVELS, "kadid_multiplicative_noise", _multiplicative,
                                          "KADID #14 multiplicative (speckle) noise, variance 0.005 .. 0.1."),
    "kadid_denoise": leveled(LEVELS, "kadid_denoise", _denoised,
                             "KADID #15 white noise then a local Wiener filter, variance 0.001 .. 0.016."),
    "sensor_noise": leveled(LEVELS, "sensor_noise", _sensor_noise,
                            "Sensor noise: Poisson-Gaussian in linear light with chroma blotches (high ISO)."),
}

STOCHASTIC = frozenset(n for n in FAMILIES if n != "tid_quantization_noise")
#: New families draw one noise pattern per group, scaled by the level (common random numbers).
SHARED_DRAW = frozenset({"kadid_white_noise", "kadid_color_noise", "kadid_impulse_noise",
                         "kadid_multiplicative_noise", "kadid_denoise", "sensor_noise"})
