"""Shared error text for unknown registry names."""

from __future__ import annotations

import difflib
from typing import Iterable


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    """Error text for an unknown registry name, with a "did you mean" hint."""
    known = sorted(choices)
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})"
