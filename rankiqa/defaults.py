"""Defaults shared by the Python API and the CLI, in a module that imports nothing heavy,
so that ``rankiqa --help`` or ``rankiqa models`` never pay for importing torch."""

from __future__ import annotations

__all__ = ["PROTOCOLS", "POOLINGS", "PRECISIONS", "DEFAULT_PRECISION", "DEFAULT_BATCH_SIZE", "DEFAULT_WORKERS"]

#: Test-time protocols (see :mod:`rankiqa.protocols`).
PROTOCOLS = ("paper", "grid", "full")
#: How crop scores become one image score (see :mod:`rankiqa.protocols`).
POOLINGS = ("mean", "activity")
#: Crops per forward pass.
DEFAULT_BATCH_SIZE = 32
#: Threads decoding ahead of the network in each lane (see :mod:`rankiqa.pipeline`).
DEFAULT_WORKERS = 1
#: Inference precisions (see :mod:`rankiqa.precision`); ``auto``: bfloat16 where the CPU has it natively.
PRECISIONS = ("auto", "float32", "bfloat16")
DEFAULT_PRECISION = "auto"
