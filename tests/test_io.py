"""Image decoding: every kind of awkward input has its documented outcome."""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from bad_inputs import array_corpus, write_corrupt_exif_jpeg, write_file_corpus
from rankiqa.errors import ImageLoadError, ImageWarning
from rankiqa.io import load_image


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    return d, write_file_corpus(d)


def test_corpus_is_broad(corpus):
    assert len(corpus[1]) + len(array_corpus()) >= 20


def test_file_corpus_outcomes(corpus):
    d, expected = corpus
    for name, outcome in expected.items():
        if outcome == "score":
            x = load_image(d / name)
            assert x.dtype == torch.float32 and x.shape[0] == 3 and 0 <= float(x.min()) <= float(x.max()) <= 1, name
        else:
            with pytest.raises(ImageLoadError, match=re.escape(outcome)) as info:
                load_image(d / name)
            assert str(d / name) in str(info.value), "the error must name the file"


@pytest.mark.parametrize("label, value, outcome", array_corpus(), ids=[c[0] for c in array_corpus()])
def test_array_outcomes(label, value, outcome):
    if outcome == "score":
        x = load_image(value)
        assert x.shape[0] == 3 and x.dtype == torch.float32
    else:
        with pytest.raises(ImageLoadError, match=re.escape(outcome)):
            load_image(value)


def test_exif_orientation_applied(corpus):
    d, _ = corpus
    assert tuple(load_image(d / "exif_rotated.jpg").shape[1:]) == (100, 40)


def test_alpha_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # black, fully transparent
    assert float(load_image(rgba).min()) == 1.0
    rgba[..., 3] = 255
    assert float(load_image(rgba).max()) == 0.0


def test_sixteen_bit_precision_kept(corpus):
    d, _ = corpus
    x = load_image(d / "gray16.png")
    values = np.unique(x[0].numpy())
    assert len(values) > 256  # more levels than 8 bits could hold


def test_greyscale_and_palette_are_rgb(corpus):
    d, _ = corpus
    g = load_image(d / "gray.png")
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    assert load_image(d / "palette.png").shape[0] == 3


def test_pil_and_path_agree(corpus):
    d, _ = corpus
    with Image.open(d / "good.jpg") as im:
        assert torch.equal(load_image(im), load_image(d / "good.jpg"))


def test_metadata_fault_warns_naming_the_file(tmp_path):
    path = write_corrupt_exif_jpeg(tmp_path / "odd_exif.jpg")
    with pytest.warns(ImageWarning, match=r"odd_exif\.jpg: .*decoded anyway"):
        x = load_image(path)
    assert x.shape == (3, 40, 60)


def test_parallel_decoding_reports_every_warning_and_keeps_the_filters(tmp_path):
    # catch_warnings swaps process-wide state: unguarded, threads decoding at once lose warnings and leave
    # another thread's filters installed.
    paths = [write_corrupt_exif_jpeg(tmp_path / f"odd{i}.jpg") for i in range(48)]
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(load_image, paths))
        assert warnings.filters == filters
    named = [re.match(r"(.*odd\d+\.jpg): ", str(w.message)) for w in recorded if w.category is ImageWarning]
    assert sorted(m.group(1) for m in named if m) == sorted(map(str, paths))


def test_bomb_between_one_and_two_limits_is_refused(tmp_path):
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; rankiqa refuses it too.
    side = int((1.5 * Image.MAX_IMAGE_PIXELS) ** 0.5)
    path = tmp_path / "big.png"
    Image.new("1", (side, side)).save(path, optimize=True)
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path)
