"""rankiqa: no-reference image quality assessment learned from rankings (RankIQA).

>>> import rankiqa
>>> rankiqa.score("photo.jpg")            # doctest: +SKIP
>>> rankiqa.rank(["a.jpg", "b.jpg"])      # doctest: +SKIP
>>> rankiqa.report("photos/", "report.html")  # doctest: +SKIP

Importing the package is light: torch and the weights are loaded on first use,
and the training code (``rankiqa.train``) is never imported from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["score", "rank", "load_model", "list_models", "report", "QualityMetric", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.api import list_models, load_model, rank, score
    from rankiqa.html_report import report
    from rankiqa.metric import QualityMetric


def __getattr__(name: str) -> Any:
    # Lazy: `import rankiqa` must stay cheap for CLIs and apps that may never score.
    if name in ("score", "rank", "load_model", "list_models"):
        from rankiqa import api

        return getattr(api, name)
    if name == "report":
        from rankiqa.html_report import report

        return report
    if name == "QualityMetric":
        from rankiqa.metric import QualityMetric

        return QualityMetric
    raise AttributeError(f"module 'rankiqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
