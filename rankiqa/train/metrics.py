"""IQA correlation metrics and within-group ranking accuracy."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats

__all__ = ["srocc", "krcc", "plcc", "rmse", "logistic5", "fit_logistic5", "group_ranking_metrics"]


def _arrays(pred, target) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred and target differ in length: {p.size} vs {t.size}")
    if p.size < 2:
        raise ValueError("need at least 2 values")
    return p, t


def srocc(pred, target) -> float:
    """Spearman rank-order correlation."""
    return float(stats.spearmanr(*_arrays(pred, target)).statistic)


def krcc(pred, target) -> float:
    """Kendall rank correlation (tau-b)."""
    return float(stats.kendalltau(*_arrays(pred, target)).statistic)


def plcc(pred, target) -> float:
    """Pearson linear correlation."""
    return float(stats.pearsonr(*_arrays(pred, target)).statistic)


def rmse(pred, target) -> float:
    """Root mean squared error."""
    p, t = _arrays(pred, target)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    """The 5-parameter logistic of the VQEG / thesis Eq. 11: b1*(1/2 - 1/(1+e^{b2(x-b3)})) + b4*x + b5."""
    z = np.clip(b2 * (x - b3), -60, 60)
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(z))) + b4 * x + b5


def fit_logistic5(pred, target) -> np.ndarray:
    """Least-squares fit of :func:`logistic5` mapping predictions onto the target scale."""
    p, t = _arrays(pred, target)
    if p.size <= 5 or np.ptp(p) == 0:
        # Too few points for 5 parameters: the linear member of the family (b1 = 0).
        slope, intercept = np.polyfit(p, t, 1) if np.ptp(p) > 0 else (0.0, float(np.mean(t)))
        return np.array([0.0, 1.0, 0.0, float(slope), float(intercept)])
    sd = p.std() or 1.0
    p0 = [np.ptp(t) or 1.0, 1.0 / sd, float(np.mean(p)), 0.0, float(np.mean(t))]
    # A monotone fit in either direction: start b1 with the correlation's sign.
    p0[0] *= np.sign(np.corrcoef(p, t)[0, 1] if np.std(t) > 0 else 1.0) or 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, _ = optimize.curve_fit(logistic5, p, t, p0=p0, maxfev=20000)
        except RuntimeError:
            params = np.array(p0)
    return params


def group_ranking_metrics(scores, groups, levels) -> dict[str, float]:
    """Pairwise ranking accuracy within groups (lower level should score higher),
    and the mean over groups of Spearman(score, -level)."""
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(groups)
    lv = np.asarray(levels)
    correct = total = 0
    rhos = []
    for gid in np.unique(g):
        m = g == gid
        sg, lg = s[m], lv[m]
        better = lg[:, None] < lg[None, :]
        correct += int(np.sum(better & (sg[:, None] > sg[None, :])))
        total += int(np.sum(better))
        if np.unique(lg).size > 1 and np.unique(sg).size > 1:
            rhos.append(stats.spearmanr(sg, -lg).statistic)
    return {
        "pair_accuracy": correct / total if total else float("nan"),
        "pairs": float(total),
        "srocc_level": float(np.mean(rhos)) if rhos else float("nan"),
    }
