"""Turning user inputs into images: float32 tensors 3xHxW in [0, 1], RGB.

Accepted inputs: a path (str or Path), a ``PIL.Image``, a numpy array
(HxW, HxWx1, HxWx3, HxWx4; uint8, uint16, or float in [0, 1]) or a torch
tensor (CxHxW with C in 1, 3, 4; BxCxHxW is a batch of images).

Decoding rules, applied to every input the same way:

- EXIF orientation is applied (the photo as a viewer shows it).
- Greyscale is replicated to RGB; palette and CMYK are converted to RGB.
- Alpha (RGBA, LA, palette transparency) is composited on **white**
  (:data:`ALPHA_BACKGROUND`), as most viewers show transparent images.
- 16-bit images keep their precision (divided by 65535).
- Animated images (GIF, APNG, WebP) are scored on their first frame.
- HEIC/HEIF (iPhone photos) are read through ``pillow-heif`` (``rankiqa[heif]``),
  registered on the first such file; AVIF through Pillow's own plugin.
- Images above ``PIL.Image.MAX_IMAGE_PIXELS`` pixels are refused
  (decompression-bomb guard) rather than decoded.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError, features

from rankiqa.errors import ImageLoadError, ImageWarning

__all__ = ["ALPHA_BACKGROUND", "IMAGE_SUFFIXES", "load_image", "describe_input", "is_single_input", "expand_inputs"]

ALPHA_BACKGROUND = 1.0  # white, on [0, 1]
#: File suffixes treated as images when a folder is expanded.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".jp2",
                            ".heic", ".heif", ".avif"})

# ISO base media "ftyp" brands of HEIF images (iPhone photos) and of AVIF.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_heif_lock = threading.Lock()
_heif_ready = False


def _container_brand(path: Path) -> bytes | None:
    """The major brand of an ISO media file (HEIF, AVIF), or None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    return head[8:12] if head[4:8] == b"ftyp" else None


def _ensure_codec(path: Path, name: str) -> None:
    """Make Pillow able to open a HEIF or AVIF file, registering pillow-heif on first need."""
    global _heif_ready
    brand = _container_brand(path)
    if brand in _AVIF_BRANDS and not features.check("avif"):
        raise ImageLoadError(name, "AVIF image, but this Pillow was built without AVIF support; upgrade Pillow "
                                   "(>= 11.2 ships it)")
    if brand not in _HEIF_BRANDS or _heif_ready:
        return
    with _heif_lock:
        if _heif_ready:
            return
        try:
            import pillow_heif
        except ImportError:
            raise ImageLoadError(name, "HEIC/HEIF image: reading it needs the optional extra, "
                                       "pip install 'rankiqa[heif]'") from None
        pillow_heif.register_heif_opener()
        _heif_ready = True


def describe_input(x: Any, index: int | None = None) -> str:
    """A short name for an input, used in error messages: the path, or its kind and position."""
    if isinstance(x, (str, Path)):
        return str(x)
    where = f"input #{index}" if index is not None else "input"
    if isinstance(x, Image.Image):
        return f"{where} (PIL image {x.mode} {x.size[0]}x{x.size[1]})"
    if isinstance(x, (np.ndarray, torch.Tensor)):
        kind = "numpy array" if isinstance(x, np.ndarray) else "tensor"
        return f"{where} ({kind} {tuple(x.shape)} {x.dtype})"
    return f"{where} ({type(x).__name__})"


def is_single_input(x: Any) -> bool:
    """True for one image; False for batches: 4-D tensors or arrays, and other iterables
    (lists, tuples, generators). Paths, PIL images and 2-/3-D arrays are single images."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x.ndim != 4
    if isinstance(x, (str, bytes, Path, Image.Image)):
        return True
    return not hasattr(x, "__iter__")


def expand_inputs(images: Any) -> list[Any]:
    """A flat list of single images from one image, an iterable of images, or a 4-D batch."""
    if is_single_input(images):
        return [images]
    if isinstance(images, torch.Tensor):
        return list(images.unbind(0))
    return list(images)


def images_in_folder(folder: str | Path, recursive: bool = False) -> list[str]:
    """The image files of a folder (by suffix, sorted), descending into sub-folders if ``recursive``."""
    pattern = "**/*" if recursive else "*"
    return sorted(str(f) for f in Path(folder).glob(pattern) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def _composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rgb * alpha + ALPHA_BACKGROUND * (1.0 - alpha)


# warnings.catch_warnings swaps process-wide state, and decoding runs in several threads at once: one at a time.
_WARNINGS_LOCK = threading.Lock()


@contextmanager
def _pillow_warnings(caught: list[str] | None) -> Iterator[None]:
    """Collect Pillow's warnings into ``caught`` (``None``: leave them alone) and make a possible
    decompression bomb an error. Only header and metadata work goes in here: it holds a lock."""
    if caught is None:
        yield
        return
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        finally:
            caught.extend(str(w.message).strip() for w in recorded
                          if issubclass(w.category, UserWarning) and not issubclass(w.category, ImageWarning))


def _from_pil(im: Image.Image, name: str, caught: list[str] | None = None) -> np.ndarray:
    """HxWx3 float32 in [0, 1] from any PIL image; Pillow's warnings about its metadata go to ``caught``."""
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    try:
        with _pillow_warnings(caught):
            im = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not make the pixels unreadable
        pass
    mode = im.mode
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow opens 16-bit greyscale as I;16 or I: both are read on the 16-bit scale.
        g = np.clip(np.asarray(im, dtype=np.float32) / 65535.0, 0.0, 1.0)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        g = np.asarray(im, dtype=np.float32)
        return np.repeat(_check_float(g, name)[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
        arr = np.asarray(im, dtype=np.float32) / 255.0
        return _composite(arr[..., :3], arr[..., 3:4])
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.float32) / 255.0


def _open_path(path: Path) -> np.ndarray:
    name = str(path)
    if not path.exists():
        raise ImageLoadError(name, "no such file")
    if path.is_dir():
        raise ImageLoadError(name, "is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageLoadError(name, "empty file")
    _ensure_codec(path, name)
    caught: list[str] = []
    try:
        with _pillow_warnings(caught):
            im = Image.open(path)  # the header: the size check and most metadata
        with im:
            im.load()  # the decode itself, outside the lock: decoding threads run side by side
            image = _from_pil(im, name, caught)
    except UnidentifiedImageError:
        raise ImageLoadError(name, "not an image, or a format Pillow cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(name, f"image too large, refused as a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(name, f"truncated or corrupt image data ({exc})") from None
    except MemoryError:
        raise ImageLoadError(name, "image too large to decode in the memory available") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise anything on hostile files (fuzzed)
        raise ImageLoadError(name, f"corrupt image data ({type(exc).__name__}: {exc})") from None
    if caught:
        # Pillow's own warnings name neither the file nor rankiqa's call; say each once, with the file's name
        # (under the lock, or another thread's _pillow_warnings would take it for its own).
        with _WARNINGS_LOCK:
            for message in dict.fromkeys(caught):
                warnings.warn(f"{name}: {message} (the image decoded anyway)", ImageWarning, stacklevel=3)
    return image


def _check_float(arr: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ImageLoadError(name, "contains NaN or infinite values")
    lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise ImageLoadError(name, f"float values must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]")
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)


def _from_array(arr: np.ndarray, name: str) -> np.ndarray:
    """HxWx3 float32 in [0, 1] from an HxW / HxWxC numpy array."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageLoadError(name, f"expected shape HxW or HxWxC with C in 1, 3, 4; got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(name, f"image has no pixels (shape {arr.shape})")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif arr.dtype.kind == "f":
        x = _check_float(arr.astype(np.float32), name)
    else:
        raise ImageLoadError(name, f"unsupported dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    elif x.shape[2] == 4:
        x = _composite(x[..., :3], x[..., 3:4])
    return x


def _from_tensor(t: torch.Tensor, name: str) -> np.ndarray:
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
        raise ImageLoadError(name, f"expected a CxHxW tensor with C in 1, 3, 4 (or BxCxHxW); got {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise ImageLoadError(name, f"unsupported dtype {t.dtype}")
    arr = t.detach().cpu()
    arr = arr.float().numpy() if arr.is_floating_point() else arr.numpy()
    return _from_array(np.moveaxis(arr, 0, -1), name)


def load_image(x: Any, name: str | None = None, *, channels_last: bool = False) -> torch.Tensor:
    """Decode one input into a float32 tensor 3xHxW in [0, 1] (see module rules).

    ``channels_last=True`` returns the same values stored pixel by pixel (a
    3xHxW view of HxWx3 memory): what oneDNN's convolutions read on the CPU,
    so the scoring pipeline skips two transposing copies of every image.
    Raises :class:`~rankiqa.errors.ImageLoadError` naming the input and the problem.
    """
    name = name or describe_input(x)
    if isinstance(x, (str, Path)):
        arr = _open_path(Path(x))
    elif isinstance(x, Image.Image):
        try:
            arr = _from_pil(x, name)
        except (OSError, ValueError) as exc:
            raise ImageLoadError(name, f"cannot read PIL image ({exc})") from None
    elif isinstance(x, np.ndarray):
        arr = _from_array(x, name)
    elif isinstance(x, torch.Tensor):
        arr = _from_tensor(x, name)
    else:
        raise ImageLoadError(name, f"unsupported input type {type(x).__name__}; pass a path, PIL image, "
                                   "numpy array or torch tensor")
    if channels_last:
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32))
