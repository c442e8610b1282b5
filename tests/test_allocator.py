"""reuse_freed_memory: argument checks, its effect on page faults (in fresh processes), and who calls it."""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys

import pytest

from rankiqa import cli
from rankiqa.allocator import reuse_freed_memory
from rankiqa.train import __main__ as train_cli

# Four 16 MiB buffers at a time, freed together: glibc's defaults hand the 64 MiB back to the OS every round,
# so every round faults its pages in again; kept for reuse, only the first round does.
_CHURN = """
import json, resource, sys
if sys.argv[1] == "on":
    from rankiqa.allocator import reuse_freed_memory
    assert reuse_freed_memory()
def rounds():
    for _ in range(6):
        bufs = [bytearray(16 << 20) for _ in range(4)]
        del bufs
rounds()  # the first round faults in any case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds()
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""

_GLIBC = sys.platform.startswith("linux") and "libc.so.6" in (ctypes.util.find_library("c") or "")


@pytest.mark.parametrize("args", [(0, 1), (1, -5)])
def test_rejects_non_positive_thresholds(args):
    with pytest.raises(ValueError, match="thresholds must be > 0"):
        reuse_freed_memory(*args)


@pytest.mark.skipif(not _GLIBC, reason="glibc's mallopt only")
def test_freed_memory_is_reused_without_page_faults():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    default, reused = faults("off"), faults("on")
    pages = 6 * 4 * (16 << 20) // 4096  # what six rounds touch
    assert default > pages // 2, default
    assert reused < pages // 20, (default, reused)


@pytest.mark.skipif(not _GLIBC, reason="glibc's mallopt only")
def test_returns_true_on_glibc_and_may_be_called_again():
    assert reuse_freed_memory() is True
    assert reuse_freed_memory() is True


def test_both_commands_set_it_first(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: calls.append("rankiqa") or True)
    monkeypatch.setattr(train_cli, "reuse_freed_memory", lambda: calls.append("train") or True)
    assert cli.main(["models", "--json"]) == 0
    assert train_cli.main(["synthesize", "--refs", "/nonexistent", "--out", "/tmp/x"]) == 2
    assert calls == ["rankiqa", "train"]
