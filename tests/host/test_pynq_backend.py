"""The pynq backend: its bundle checks here, and the board tests (tests/host/pynq_board.py) in .venv-board.

pynq 3.1.2 pins numpy<2 and its PynqBuffer cannot be created under numpy 2 (ndarray.device became a
read-only attribute), so the board tests run in their own venv, as on the board: numpy<2, pynq 3.1.2,
the host package. `make test` creates it (see the Makefile); the bundle comes from this session.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codenet.host.bundle import DEFAULT_BUNDLE
from codenet.host.cli import main
from codenet.host.detector import Detector
from codenet.host.errors import CodenetError
from codenet.overlay.flow.bundle_writer import add_files
from codenet.overlay.flow.hwh import accelerator_hwh

ROOT = Path(__file__).resolve().parents[2]
BOARD_PY = ROOT / ".venv-board" / "bin" / "python"
SAMPLE = ROOT / "host" / "samples" / "scene0.jpg"


def make_board_bundle(src, dst: Path) -> Path:
    """A copy of `src` with the accelerator's .hwh and a stand-in .bit, recorded as `make overlay` would."""
    shutil.copytree(src, dst)
    accel = json.loads((dst / "manifest.json").read_text())["accelerator"]
    build = dst.parent / "vivado-out"
    build.mkdir()
    (build / "codenet.hwh").write_bytes(accelerator_hwh(accel))
    (build / "codenet.bit").write_bytes(b"\x00\x09\x0f\xf0 stand-in bitstream for the simulated board")
    add_files(dst, {"codenet.bit": build / "codenet.bit", "codenet.hwh": build / "codenet.hwh"})
    return dst


@pytest.fixture
def board_bundle(tiny_bundle, tmp_path):
    return make_board_bundle(tiny_bundle, tmp_path / "bundle")


def test_board_suite_in_board_venv(board_bundle, tmp_path):
    assert BOARD_PY.exists(), ".venv-board is missing: `make test` creates it (numpy<2 + pynq 3.1.2)"
    env = {**os.environ, "CODENET_BOARD_BUNDLE": str(board_bundle), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CODENET_BOARD_SHIPPED", None)
    shipped = DEFAULT_BUNDLE / "manifest.json"
    if shipped.exists() and "accelerator" in json.loads(shipped.read_text()):
        env["CODENET_BOARD_SHIPPED"] = str(make_board_bundle(DEFAULT_BUNDLE, tmp_path / "shipped" / "bundle"))
    p = subprocess.run([str(BOARD_PY), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(ROOT / "tests" / "host" / "pynq_board.py")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert " passed" in p.stdout and " failed" not in p.stdout, p.stdout[-3000:]


def test_manifest_describes_the_accelerator(tiny_bundle):
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    a = m["accelerator"]
    size, out_shape = m["input"]["shape"], m["output"]["shape"]
    assert a["input"]["shape"] == size and a["input"]["datatype"] == "UINT8"
    assert a["output"]["shape"] == out_shape
    # the head's accumulators: int32 in the graph, so 4 bytes per element in the packed buffer
    assert a["output"]["datatype"] == "INT32" and a["output"]["packed_shape"][-1] == 4 * a["output"]["folded_shape"][-1]
    assert a["registers"] == {"ctrl": 0, "ap_start": 1, "ap_done": 2, "addr_lo": 0x10, "addr_hi": 0x14,
                              "num_images": 0x1C}


def one_line_error(capsys, bundle, tmp_path):
    code = main(["detect", str(SAMPLE), "--bundle", str(bundle), "--backend", "pynq", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_bundle_without_bitstream(tiny_bundle, tmp_path, capsys):
    err = one_line_error(capsys, tiny_bundle, tmp_path)
    assert "no bitstream in this bundle" in err and "`make overlay`" in err and "build/overlay/bundle" in err


def test_mismatched_bitstream_refused_before_pynq(board_bundle, tmp_path, capsys):
    (board_bundle / "codenet.bit").write_bytes(b"another build's bitstream")
    err = one_line_error(capsys, board_bundle, tmp_path)
    assert "codenet.bit" in err and "hash does not match" in err


def test_missing_bitstream(board_bundle, tmp_path, capsys):
    (board_bundle / "codenet.bit").unlink()
    assert "codenet.bit: missing" in one_line_error(capsys, board_bundle, tmp_path)


def test_without_pynq_installed(board_bundle, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynq", None)  # import pynq -> ImportError, as off the board
    assert "needs the pynq package" in one_line_error(capsys, board_bundle, tmp_path)


def test_bundle_without_accelerator_section(board_bundle):
    manifest = json.loads((board_bundle / "manifest.json").read_text())
    del manifest["accelerator"]
    (board_bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CodenetError, match="no 'accelerator' section"):
        Detector(board_bundle, backend="pynq")


@pytest.mark.parametrize("mhz, divisors", [(100.0, (10, 1)), (125.0, (8, 1)), (50.0, (20, 1)), (142.0, (7, 1))])
def test_hwh_clock_divisors(mhz, divisors):
    from codenet.overlay.flow.hwh import clock_divisors

    assert clock_divisors(mhz) == divisors
