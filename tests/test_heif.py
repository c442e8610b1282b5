"""Phone photos: HEIC/HEIF through pillow-heif (registered lazily), AVIF through Pillow, EXIF orientation."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image, features

from rankiqa import io
from rankiqa.errors import ImageLoadError
from conftest import smooth_photo


def _rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    return exif.tobytes()


def _save(path, fmt: str) -> np.ndarray:
    arr = smooth_photo(32, 48, seed=5)
    Image.fromarray(arr).save(path, format=fmt, quality=95, exif=_rotated_exif())
    return arr


def test_heic_round_trip_with_orientation(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()  # only to *write* the test file; reading registers on its own
    path = tmp_path / "phone.heic"
    arr = _save(path, "HEIF")
    x = io.load_image(path)
    assert x.shape == (3, 48, 32)  # EXIF orientation applied: portrait as shown
    shown = np.rot90(arr, k=-1).transpose(2, 0, 1) / 255.0
    assert np.abs(x.numpy() - shown).mean() < 0.03


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF plugin")
def test_avif_round_trip_with_orientation(tmp_path):
    path = tmp_path / "photo.avif"
    arr = _save(path, "AVIF")
    x = io.load_image(path)
    assert x.shape == (3, 48, 32)
    assert np.abs(x.numpy() - np.rot90(arr, k=-1).transpose(2, 0, 1) / 255.0).mean() < 0.03


def test_heic_found_by_content_whatever_its_suffix(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "renamed.jpg"
    _save(path, "HEIF")
    assert io._container_brand(path) in io._HEIF_BRANDS
    assert io.load_image(path).shape == (3, 48, 32)


def test_without_the_extra_the_error_names_it(tmp_path, monkeypatch):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "phone.heic"
    _save(path, "HEIF")
    monkeypatch.setattr(io, "_heif_ready", False)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    with pytest.raises(ImageLoadError, match=r"pip install 'rankiqa\[heif\]'") as info:
        io.load_image(path)
    assert str(path) in str(info.value)


def test_folders_pick_up_phone_formats():
    assert {".heic", ".heif", ".avif"} <= io.IMAGE_SUFFIXES
