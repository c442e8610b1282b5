"""Distortion families: quality falls with level, determinism, argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from rankiqa.train.distortions import (DISTORTIONS, LEVELS, SETS, STOCHASTIC, apply_distortion, gaussian_blur,
                                       jp2k_compress, num_levels, rank_level, resolve_set)

# Families judged by how far the image moves rather than by PSNR/SSIM falling
# against a clean image whose statistics they change on purpose.
DEVIATION = {"tid_mean_shift_down", "tid_mean_shift_up", "tid_contrast_down", "tid_contrast_up",
             "tid_saturation"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM on the luminance (Gaussian window 1.5), after Wang et al. 2004."""
    w = np.array([0.299, 0.587, 0.114])
    x, y = a.astype(np.float64) @ w, b.astype(np.float64) @ w
    f = lambda z: ndimage.gaussian_filter(z, 1.5)  # noqa: E731
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))))


def _check_monotone(name: str, image: np.ndarray, psnr_blur_chains: bool = True, ssim: bool = True) -> None:
    outs = [apply_distortion(name, image, lv, rng=123) for lv in range(1, num_levels(name) + 1)]
    if name.startswith("mlive_"):
        # MLIVE versions are only partially ordered: check every dominance chain
        # (second stage at fixed blur, blur at fixed second stage).
        stage_chains = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        blur_chains = [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
        for chain in stage_chains + blur_chains:
            s = [ssim_y(image, outs[i]) for i in chain]
            assert all(a > b for a, b in zip(s, s[1:])), (name, chain, "SSIM", s)
        for chain in stage_chains + (blur_chains if psnr_blur_chains else []):
            p = [psnr(image, outs[i]) for i in chain]
            assert all(a > b for a, b in zip(p, p[1:])), (name, chain, "PSNR", p)
        return
    if name in DEVIATION:
        dev = [float(np.mean(np.abs(o.astype(np.float64) - image))) for o in outs]
        assert all(a < b for a, b in zip(dev, dev[1:])), (name, dev)
        return
    p = [psnr(image, o) for o in outs]
    assert all(a > b for a, b in zip(p, p[1:])), (name, "PSNR", p)
    if ssim:
        s = [ssim_y(image, o) for o in outs]
        assert all(a > b for a, b in zip(s, s[1:])), (name, "SSIM", s)


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
def test_quality_falls_with_level_generated(name, photo):
    # On this smooth synthetic image JPEG at quality 7 hides the step from blur
    # 1.2 to 2.5 in PSNR (SSIM still falls); the real-photo test checks both.
    _check_monotone(name, photo, psnr_blur_chains=False)


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
def test_quality_falls_with_level_real_photo(name, real_photo):
    # Quantisation noise's SSIM is monotone only on average: see the next test.
    _check_monotone(name, real_photo[:256, :320], ssim=name != "tid_quantization_noise")


def test_quantization_noise_ssim_falls_on_average():
    from PIL import Image

    from conftest import REFS

    files = sorted(REFS.glob("bsds500/*.jpg"))[:12]
    if not files:
        pytest.skip("../shared/data/refs not available")
    curves = []
    for f in files:
        with Image.open(f) as im:
            img = np.asarray(im.convert("RGB"))[:256, :320]
        curves.append([ssim_y(img, apply_distortion("tid_quantization_noise", img, lv)) for lv in range(1, 5)])
    mean = np.mean(curves, axis=0)
    assert all(a > b for a, b in zip(mean, mean[1:])), mean


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
def test_shape_dtype_and_determinism(name, photo):
    for level in range(num_levels(name) + 1):
        a = apply_distortion(name, photo, level, rng=7)
        b = apply_distortion(name, photo, level, rng=np.random.default_rng(7))
        assert a.dtype == np.uint8 and a.shape == photo.shape
        assert a.tobytes() == b.tobytes()
    if name in STOCHASTIC:
        top = num_levels(name)
        assert not np.array_equal(apply_distortion(name, photo, top, 1), apply_distortion(name, photo, top, 2))
    else:
        assert np.array_equal(apply_distortion(name, photo, 1, 1), apply_distortion(name, photo, 1, 2))


def test_level_zero_is_clean_copy(photo):
    out = apply_distortion("gblur", photo, 0)
    assert np.array_equal(out, photo) and out is not photo


def test_sets():
    assert SETS["live"] == ("gblur", "wn", "jpeg", "jp2k")
    assert len(SETS["tid2013"]) == 19 and all(num_levels(n) == 4 for n in SETS["tid2013"])
    assert len(SETS["live_wide"]) == 4 and all(num_levels(n) == 8 for n in SETS["live_wide"])
    assert all(num_levels(n) == 5 for n in SETS["live"])
    assert len(SETS["mlive"]) == 2 and all(num_levels(n) == 9 for n in SETS["mlive"])
    assert set(SETS["all"]) == set(DISTORTIONS)
    assert len(SETS["kadid"]) == 27 and all(num_levels(n) == 5 for n in SETS["kadid"])
    assert all(num_levels(n) == 5 for n in SETS["capture"] + ("camera_chain",))
    assert set(SETS["broad"]) == set(SETS["live_wide"] + SETS["kadid"] + SETS["capture"]) | {"camera_chain"}
    # every family of every set is in exactly the modules' registry, each with a level table
    assert set(LEVELS) == set(DISTORTIONS) and STOCHASTIC <= set(DISTORTIONS)
    assert resolve_set("live,tid_block") == SETS["live"] + ("tid_block",)


def test_paper_parameters():
    assert LEVELS["gblur"] == (1.2, 2.5, 6.5, 15.2, 33.2)
    assert LEVELS["wn"] == (0.001, 0.006, 0.022, 0.088, 1.0)
    assert LEVELS["jpeg"] == (43, 12, 7, 4, 0)
    assert LEVELS["jp2k"] == (52, 150, 343, 600, 1200)


def test_mlive_rank_levels_by_combined_severity():
    assert [rank_level("mlive_gblur_jpeg", k) for k in range(10)] == [0, 1, 2, 3, 2, 3, 4, 3, 4, 5]
    assert [rank_level("jpeg", k) for k in range(6)] == list(range(6))


def test_jp2k_ratio_within_10_percent(real_photo):
    for ratio in LEVELS["jp2k"]:
        _, achieved = jp2k_compress(real_photo, ratio)
        assert abs(achieved - ratio) / ratio < 0.10, (ratio, achieved)


@pytest.mark.parametrize("sigma", [1.2, 6.5, 33.2])
def test_fft_blur_matches_direct_convolution(photo, sigma):
    direct = ndimage.gaussian_filter(photo.astype(np.float32), (sigma, sigma, 0), mode="reflect", truncate=4.0)
    direct = np.clip(direct + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(gaussian_blur(photo, sigma).astype(int) - direct).max() <= 1


def test_noise_statistics():
    flat = np.full((256, 256, 3), 128, np.uint8)
    for level, var in enumerate(LEVELS["wn"][:3], 1):
        out = apply_distortion("wn", flat, level, 0).astype(np.float64) / 255
        assert abs(out.var() - var) / var < 0.1
    out = apply_distortion("tid_impulse_noise", flat, 4, 0)
    frac = np.mean((out == 0) | (out == 255))
    assert abs(frac - 0.1) < 0.01


@pytest.mark.parametrize("bad, match", [
    (dict(name="gblurr"), "did you mean 'gblur'"),
    (dict(level=6), "out of range"),
    (dict(level=-1), "out of range"),
    (dict(level=1.5), "must be an int"),
    (dict(image=np.zeros((8, 8, 3), np.float32)), "uint8"),
    (dict(image=np.zeros((8, 8), np.uint8)), "HxWx3"),
    (dict(image=np.zeros((8, 8, 4), np.uint8)), "HxWx3"),
    (dict(image=[[0]]), "numpy array"),
])
def test_bad_arguments(bad, match, photo):
    args = dict(name="gblur", image=photo, level=1) | bad
    with pytest.raises(ValueError, match=match):
        apply_distortion(args["name"], args["image"], args["level"])


def test_unknown_set():
    with pytest.raises(ValueError, match="did you mean 'live'"):
        resolve_set("lve")


def test_new_noise_statistics():
    flat = np.full((256, 256, 3), 128, np.uint8)
    out = apply_distortion("kadid_impulse_noise", flat, 5, 0)
    assert abs(np.mean((out == 0) | (out == 255)) - LEVELS["kadid_impulse_noise"][4]) < 0.005
    # Sensor noise is signal-dependent: more noise (in linear light) on a brighter patch.
    from rankiqa.train.distortions._common import srgb_to_linear

    def linear_std(grey: int) -> float:
        img = np.full((128, 128, 3), grey, np.uint8)
        return float(srgb_to_linear(apply_distortion("sensor_noise", img, 4, 1).astype(np.float32) / 255).std())

    assert linear_std(200) > 1.5 * linear_std(60)
    # Chroma noise: the three channels' noise is not the same (coloured), yet correlated
    # between neighbours (blotches), unlike white noise.
    noisy = apply_distortion("sensor_noise", flat, 5, 2).astype(np.float64) - 128
    assert np.corrcoef(noisy[..., 0].ravel(), noisy[..., 2].ravel())[0, 1] < 0.5
    neighbour = np.corrcoef(noisy[:, :-1, 1].ravel(), noisy[:, 1:, 1].ravel())[0, 1]
    white = apply_distortion("kadid_white_noise", flat, 5, 2).astype(np.float64) - 128
    assert neighbour > 0.1 > abs(np.corrcoef(white[:, :-1, 1].ravel(), white[:, 1:, 1].ravel())[0, 1])


def test_blur_kernels():
    from rankiqa.train.distortions._common import disk_kernel
    from rankiqa.train.distortions.blur import motion_kernel, shake_kernel

    rng = np.random.default_rng(0)
    for k in (disk_kernel(3.5), motion_kernel(9, 0.7), shake_kernel(15, rng)):
        assert k.sum() == pytest.approx(1.0, abs=1e-5) and (k >= 0).all()
    k = motion_kernel(9, 0.0)  # horizontal: one row carries it all
    assert k.shape == (9, 9) and k[4].sum() == pytest.approx(1.0, abs=1e-5)
    # A shake path is curved: its kernel is not a line (more than one row and column carry weight).
    s = shake_kernel(15, np.random.default_rng(3))
    assert (s.sum(axis=0) > 0.01).sum() > 3 and (s.sum(axis=1) > 0.01).sum() > 3
    assert s.shape[0] >= 15


def test_camera_chain_every_stage_grows_with_level(photo):
    # Same draw for every level: the stage order and weights are shared, so the
    # levels are strictly ordered (quality falls) and any two are comparable.
    outs = [apply_distortion("camera_chain", photo, lv, rng=11) for lv in range(1, 6)]
    p = [psnr(photo, o) for o in outs]
    assert all(a > b for a, b in zip(p, p[1:])), p
    assert [rank_level("camera_chain", k) for k in range(6)] == list(range(6))


def test_kadid_color_diffusion_gain_blurs_then_amplifies_chroma(photo):
    from rankiqa.train.distortions._common import rgb_to_lab, to_float

    def chroma(img: np.ndarray) -> float:
        return float(np.hypot(*np.moveaxis(rgb_to_lab(to_float(img))[..., 1:], -1, 0)).mean())

    # Level 1 (amount 1) is the blur alone: the same image as the blur-only family at sigma 3.5.
    from rankiqa.train.distortions.colour import _color_diffusion
    assert np.array_equal(apply_distortion("kadid_color_diffusion_gain", photo, 1, 0),
                          _color_diffusion(photo, 3.5, np.random.default_rng(0)))
    # Later levels multiply the (blurred) chroma; at the top the sRGB gamut caps it.
    c = [chroma(apply_distortion("kadid_color_diffusion_gain", photo, lv, 0)) for lv in range(1, 6)]
    assert c[0] < c[1] / 2 < c[2] / 2 and min(c[3:]) > 3 * c[0], c
    assert chroma(apply_distortion("kadid_color_diffusion", photo, 5, 0)) < chroma(photo)
