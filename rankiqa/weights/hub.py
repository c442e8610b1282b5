"""Fetching checkpoint files: embedded, local path, or a model hub at a pinned revision.

Hub files are downloaded with ``huggingface_hub.hf_hub_download`` at the
manifest's pinned revision. huggingface-hub only checks sizes, so every use,
from cache or network, verifies the sha256 against the manifest; on a
mismatch the cached copy is deleted and downloaded once more, then
:class:`~rankiqa.errors.ChecksumError` is raised.

Honoured: ``HF_HUB_OFFLINE`` (cache only), ``HF_HOME`` / ``HF_HUB_CACHE``,
and the ``cache_dir`` / ``endpoint`` arguments.
"""

from __future__ import annotations

import errno
import os
from importlib import resources
from pathlib import Path

from rankiqa.errors import ChecksumError, WeightsError
from rankiqa.weights.checkpoint import sha256_file
from rankiqa.weights.manifest import CheckpointRecord, get_record

__all__ = ["resolve_checkpoint", "fetch_record", "PICKLE_SUFFIXES"]

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".tar")
_TRUE = {"1", "true", "yes", "on"}


def _offline(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _embedded_path(record: CheckpointRecord) -> Path:
    return Path(str(resources.files("rankiqa.weights").joinpath("embedded", record.filename)))


def _verify(path: Path, record: CheckpointRecord) -> bool:
    return sha256_file(path) == record.sha256


def _remove_cached(path: Path) -> None:
    # In the hub cache the snapshot entry is a symlink to a blob: remove both.
    target = path.resolve()
    for p in {path, target}:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _network_errors() -> tuple[type[BaseException], ...]:
    """Base errors of the HTTP clients huggingface-hub may use (httpx or requests, by version)."""
    found: list[type[BaseException]] = []
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_RETRY = "nothing was stored in the cache; check the network or the endpoint (HF_ENDPOINT) and try again"


def _os_error_message(record: CheckpointRecord, where: str, exc: OSError, cache_dir: str | Path | None) -> str:
    cache = cache_dir or os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "the hub cache"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"checkpoint {record.id!r}: cannot write to {cache} ({exc.strerror}); pass a writable cache_dir "
                "or set HF_HOME to a writable folder")
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (f"checkpoint {record.id!r}: no space left to store {where} in {cache} ({exc.strerror}); free "
                "some space or set HF_HOME to another disk, then try again")
    return f"checkpoint {record.id!r}: download of {where} failed ({exc}); {_RETRY}"


def _hub_download(record: CheckpointRecord, cache_dir: str | Path | None, endpoint: str | None,
                  offline: bool, force: bool) -> Path:
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    where = f"{record.repo_id}@{record.revision}/{record.filename}"
    try:
        return Path(huggingface_hub.hf_hub_download(
            record.repo_id, record.filename, revision=record.revision, cache_dir=cache_dir,
            endpoint=endpoint, local_files_only=offline, force_download=force,
            library_name="rankiqa", token=False,
        ))
    except hf_errors.LocalEntryNotFoundError:
        if offline:
            raise WeightsError(f"checkpoint {record.id!r} ({where}) is not in the local cache and offline mode "
                               "is on (HF_HUB_OFFLINE); download it once with `rankiqa download "
                               f"{record.id}` while online") from None
        raise WeightsError(f"cannot reach the hub for checkpoint {record.id!r} ({where}) and it is not "
                           f"cached: {_RETRY}") from None
    except hf_errors.RepositoryNotFoundError:
        raise WeightsError(f"checkpoint {record.id!r}: hub repository {record.repo_id!r} not found") from None
    except hf_errors.RevisionNotFoundError:
        raise WeightsError(f"checkpoint {record.id!r}: revision {record.revision!r} not found in "
                           f"{record.repo_id!r}") from None
    except hf_errors.EntryNotFoundError:
        raise WeightsError(f"checkpoint {record.id!r}: file {record.filename!r} not found in "
                           f"{record.repo_id!r} at revision {record.revision!r}") from None
    except hf_errors.HfHubHTTPError as exc:
        raise WeightsError(f"checkpoint {record.id!r}: download of {where} failed ({exc}); {_RETRY}") from None
    except OSError as exc:  # before the HTTP clients' errors: some of those are OSErrors too
        raise WeightsError(_os_error_message(record, where, exc, cache_dir)) from None
    except _network_errors() as exc:  # a dropped connection, a timeout: raised by the HTTP client itself
        raise WeightsError(f"checkpoint {record.id!r}: download of {where} was interrupted "
                           f"({type(exc).__name__}: {exc}); {_RETRY}") from None


def fetch_record(record: CheckpointRecord, cache_dir: str | Path | None = None, endpoint: str | None = None,
                 offline: bool | None = None) -> Path:
    """Local path of a manifest checkpoint, downloaded if needed, sha256-verified."""
    if record.embedded:
        path = _embedded_path(record)
        if not path.is_file():
            raise WeightsError(f"embedded checkpoint {record.id!r} is missing from the package ({path})")
        if not _verify(path, record):
            raise ChecksumError(f"embedded checkpoint {record.id!r} at {path} does not match its sha256; "
                                "reinstall rankiqa")
        return path
    off = _offline(offline)
    path = _hub_download(record, cache_dir, endpoint, off, force=False)
    if _verify(path, record):
        return path
    _remove_cached(path)
    if off:
        raise ChecksumError(f"cached checkpoint {record.id!r} was corrupt and has been removed; offline mode "
                            "forbids a fresh download")
    path = _hub_download(record, cache_dir, endpoint, off, force=True)
    if not _verify(path, record):
        _remove_cached(path)
        raise ChecksumError(f"checkpoint {record.id!r} from {record.repo_id}@{record.revision} does not match "
                            f"the manifest's sha256 {record.sha256[:12]}... even after a fresh download, and "
                            "was removed from the cache: the server sends another file than this rankiqa "
                            "release pins; check the endpoint (HF_ENDPOINT) or update rankiqa")
    return path


def resolve_checkpoint(name_or_path: str | os.PathLike[str], cache_dir: str | Path | None = None,
                       endpoint: str | None = None, offline: bool | None = None
                       ) -> tuple[Path, CheckpointRecord | None]:
    """A checkpoint id (or ``"default"``), or a path to a ``.safetensors`` file -> local file and record."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{text}: pickle-based checkpoints are never loaded (unsafe); convert the weights "
                           "to .safetensors")
    if path.suffix.lower() == ".safetensors" or path.exists():
        if not path.is_file():
            raise WeightsError(f"{text}: no such checkpoint file")
        return path, None
    record = get_record(text)
    return fetch_record(record, cache_dir, endpoint, offline), record

