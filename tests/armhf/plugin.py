"""pytest plugin for `make test-armhf`: the host tests on Debian armhf Python, and which of them cannot run there.

Everything in tests/host runs except the tests built on the codenet-tiny chain (tests/conftest.py's
tiny_chain: torch, brevitas and FINN make it, and OpenCV's tests use it too; none of them is on the
board) and what NOT_ON_ARMHF lists: what would otherwise fail to import or to run (the dev tools that
make test installs). The tests themselves import plainly, so that on the build machine a missing
toolchain fails them; which of them cannot run on the board is this plugin's to say. An entry of the
list that matches nothing in a collected file is an error, so the list cannot go stale silently.
"""

import platform
import sys

import pytest

# a test (all its parameters) or one node id: why it does not run on the board's core install
NOT_ON_ARMHF = {
    "tests/host/test_board_imports.py::test_host_is_python_310_compatible": "vermin is a dev tool of .venv",
    "tests/host/test_board_imports.py::test_the_version_check_can_fail": "vermin is a dev tool of .venv",
    "tests/host/test_packing.py::test_pack_matches_finn_plus_driver": "finn-plus-driver is a dev tool of .venv",
}


def pytest_configure(config):
    if platform.machine() != "armv7l":  # the point is the board's CPU: never pass on the build machine's
        raise pytest.UsageError(f"tests/armhf/plugin.py is for tests/armhf/python (armv7l), not {platform.machine()}")


def pytest_terminal_summary(terminalreporter):
    import numpy as np
    import PIL

    simd = "+".join(k for k, on in np.core._multiarray_umath.__cpu_features__.items() if on)
    terminalreporter.write_line(
        f"armhf: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__} (SIMD {simd}), "
        f"pillow {PIL.__version__}, intp {np.dtype(np.intp).itemsize * 8}-bit, {sys.byteorder}-endian")


def pytest_collection_modifyitems(config, items):
    matched, files = set(), set()
    for item in items:
        files.add(item.nodeid.partition("::")[0])
        if "tiny_chain" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="not on armhf: the codenet-tiny chain needs torch, brevitas, FINN"))
        for key, why in NOT_ON_ARMHF.items():
            if item.nodeid == key or item.nodeid.startswith(key + "["):
                item.add_marker(pytest.mark.skip(reason=f"not on armhf: {why}"))
                matched.add(key)
    stale = [k for k in NOT_ON_ARMHF if k.partition("::")[0] in files and k not in matched]
    if stale:
        raise pytest.UsageError(f"tests/armhf/plugin.py: NOT_ON_ARMHF names tests that do not exist: {', '.join(stale)}")

