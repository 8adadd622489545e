"""The toolchain a test needs: a missing module fails the test, so that CI cannot pass with exactness
tests skipped. Only on the board's armhf core install (tests/armhf), where torch, brevitas, FINN and
OpenCV are absent by design, does such a test skip."""

import importlib
import platform

import pytest

ON_ARMHF = platform.machine() == "armv7l"


def require(module: str):
    """The imported module; its absence an ImportError (a failure), or a skip on armhf."""
    if ON_ARMHF:
        return pytest.importorskip(module)
    return importlib.import_module(module)
