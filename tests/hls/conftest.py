"""Every test here C-simulates the kernels: marked `hls`, and an error (not a skip) where g++ or the
ap_types headers are missing, so a broken toolchain cannot pass as green. Deselect with -m "not hls"."""

import pytest

from codenet.hls import csim


@pytest.fixture(autouse=True)
def _csim_toolchain():
    csim.require()
