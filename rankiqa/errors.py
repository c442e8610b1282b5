"""Exceptions raised by rankiqa. All derive from :class:`RankIQAError`."""

from __future__ import annotations

__all__ = ["RankIQAError", "ImageLoadError", "ImageWarning", "BatchScoringError", "WeightsError", "ChecksumError"]


class RankIQAError(Exception):
    """Base class of rankiqa's errors."""


class ImageLoadError(RankIQAError, ValueError):
    """An input could not be turned into an image; names the input and the problem."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ImageWarning(UserWarning):
    """An input was decoded and scored, but its file has a fault worth knowing (e.g. corrupt EXIF metadata, so
    its orientation may not be applied); the message names the input."""


class BatchScoringError(RankIQAError, ValueError):
    """Some inputs of a batch failed. ``scores`` keeps every result (NaN where it
    failed) and ``errors`` maps each failed position to its :class:`ImageLoadError`."""

    def __init__(self, scores: list[float], errors: dict[int, ImageLoadError]):
        lines = [f"  [{i}] {e}" for i, e in sorted(errors.items())]
        super().__init__(f"{len(errors)} of {len(scores)} inputs failed:\n" + "\n".join(lines))
        self.scores = scores
        self.errors = errors


class WeightsError(RankIQAError):
    """A checkpoint could not be found, downloaded, verified or read."""


class ChecksumError(WeightsError):
    """A checkpoint's sha256 differs from the manifest's, even after a fresh download."""
