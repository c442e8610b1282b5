"""Optional bridges to other engines, each imported only when asked for and behind its extra.

- :mod:`rankiqa.integrations.ray`: score datasets of any size on a Ray cluster (``rankiqa[ray]``).
- :mod:`rankiqa.integrations.torchmetrics`: ``MeanQuality``, a ``torchmetrics.Metric``
  (``rankiqa[torchmetrics]``).
"""
