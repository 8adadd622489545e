"""The unmodified pynq backend on the real pynq 3.1.2 package against a simulated board (tests/host/mock_pynq.py).

Runs in .venv-board (numpy<2, pynq 3.1.2, the host package and nothing heavy, as on the board: pynq
3.1.2's PynqBuffer cannot be created under numpy 2), started by tests/host/test_pynq_backend.py with
CODENET_BOARD_BUNDLE = a codenet-tiny bundle that has the accelerator's .hwh and a stand-in .bit.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import pynq  # noqa: F401  (.venv-board has it; without it the board suite fails)

from codenet.host.cli import main
from codenet.host.detector import Detector
from codenet.host.errors import CodenetError
from codenet.host.preprocess import read_image
from codenet.host.sim import simulate

from tests.host.mock_pynq import SimulatedBoard, install

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "host" / "samples").glob("*.jpg"))


def bundle_copy(variable: str, tmp_path, why: str):
    """A copy of the bundle the variable names (set by tests/host/test_pynq_backend.py), or a skip."""
    src = os.environ.get(variable)
    if not src:
        pytest.skip(why)
    dst = tmp_path / variable.lower()
    shutil.copytree(src, dst)
    return dst


@pytest.fixture
def board_bundle(tmp_path):
    return bundle_copy("CODENET_BOARD_BUNDLE", tmp_path,
                       "run by tests/host/test_pynq_backend.py, which sets CODENET_BOARD_BUNDLE")


def make_board(bundle_dir, hang=False, hardware=None):
    """The simulated board for a bundle; `hardware` replaces the simulator (images -> accumulators)."""
    from codenet.host.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    run = hardware or (lambda x: simulate(bundle.graph, x))
    return install(SimulatedBoard(bundle.manifest["accelerator"], run, hang=hang))


def scramble(images, out_shape):
    """An input-dependent stand-in network whose int32 outputs use every bit: any packing, ordering,
    address or cache-maintenance mistake changes them (the random-init tiny model's head is constant)."""
    n = images.shape[0]
    flat = images.reshape(n, -1).astype(np.int64)
    idx = np.arange(int(np.prod(out_shape[1:])), dtype=np.int64)
    f = flat.shape[1]
    v = flat[:, idx % f] * 16777619 + flat[:, (idx * 7 + 3) % f] * 65537 + idx * 2654435761
    return (v % (1 << 32) - (1 << 31)).astype(np.int32).reshape(n, *out_shape[1:])


def test_pynq_backend_equals_sim_on_the_samples(board_bundle):
    board = make_board(board_bundle)
    on_board = Detector(board_bundle, backend="pynq", score_threshold=0.05)
    in_sim = Detector(board_bundle, backend="sim", score_threshold=0.05)
    assert board.downloads == [str(board_bundle / "codenet.bit")]
    total = 0
    for path in SAMPLES:
        image = read_image(path)
        got, want = on_board(image), in_sim(image)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and np.array_equal(g, w)
        total += len(want[0])
    assert total > 0  # the comparison saw detections, not only empty lists
    assert board.runs == len(SAMPLES)
    # every run flushed the input before the PL read it and invalidated the output after
    assert len(board.flushes) == len(board.invalidates) == len(SAMPLES)
    on_board.close()


def test_data_path_is_bit_exact(board_bundle):
    out_shape = json.loads((board_bundle / "manifest.json").read_text())["output"]["shape"]
    board = make_board(board_bundle, hardware=lambda x: scramble(x, out_shape))
    det = Detector(board_bundle, backend="pynq")
    rng = np.random.default_rng(3)
    size = det.bundle.input_size
    for n in (2, 1, 1):  # a batch size change reallocates the buffers
        batch = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        got = det.run_graph(batch)
        want = scramble(batch, out_shape)
        assert got.dtype == np.int32 and np.array_equal(got, want)
        assert want.min() < 0 < want.max()
    assert board.runs == 3
    accel = json.loads((board_bundle / "manifest.json").read_text())["accelerator"]
    packed_in = tuple(accel["input"]["packed_shape"][1:])
    inputs = [a for a in board.allocations if a[0][1:] == packed_in]
    assert inputs == [((n, *packed_in), "uint8", True) for n in (2, 1)]  # cacheable, once per batch size


def test_accumulators_equal_sim_for_a_batch(board_bundle):
    make_board(board_bundle)
    det = Detector(board_bundle, backend="pynq")
    batch = np.random.default_rng(4).integers(0, 256, (2, det.bundle.input_size, det.bundle.input_size, 3),
                                              dtype=np.uint8)
    got = det.run_graph(batch)
    assert got.dtype == np.int32 and np.array_equal(got, simulate(det.bundle.graph, batch))


def test_shipped_bundle_on_the_board(tmp_path):
    """The trained codenet-s on the demo images: pynq (simulated board) == sim, detection for detection."""
    dst = bundle_copy("CODENET_BOARD_SHIPPED", tmp_path, "no shipped bundle (host/bundles/codenet-s) yet")
    make_board(dst)
    # the shipped model's scores sit at 0.2-0.3 (model/results.md): compare what it finds above 0.1
    on_board, in_sim = Detector(dst, backend="pynq", score_threshold=0.1), Detector(dst, backend="sim",
                                                                                     score_threshold=0.1)
    total = 0
    for path in SAMPLES:
        image = read_image(path)
        got, want = on_board(image), in_sim(image)
        assert all(np.array_equal(g, w) and g.dtype == w.dtype for g, w in zip(got, want))
        total += len(want[0])
    assert total > 0


def test_clock_is_the_manifests(board_bundle):
    manifest = json.loads((board_bundle / "manifest.json").read_text())
    manifest["accelerator"]["fclk_mhz"] = 125.0
    (board_bundle / "manifest.json").write_text(json.dumps(manifest))
    make_board(board_bundle)
    Detector(board_bundle, backend="pynq")
    assert pynq.Clocks.fclk0_mhz == pytest.approx(125.0)


def test_dma_that_never_finishes_times_out(board_bundle):
    make_board(board_bundle, hang=True)
    det = Detector(board_bundle, backend="pynq", timeout_s=0.2)
    with pytest.raises(CodenetError, match=r"did not finish within 0.2 s"):
        det(np.zeros((20, 30, 3), np.uint8))


def one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_bitstream_of_another_build_is_refused(board_bundle, tmp_path, capsys):
    board = make_board(board_bundle)
    (board_bundle / "codenet.bit").write_bytes(b"another build's bitstream")
    err = one_line_error(capsys, ["detect", str(SAMPLES[0]), "--bundle", str(board_bundle), "--backend", "pynq",
                                  "--out", str(tmp_path / "out")])
    assert "codenet.bit" in err and "hash" in err
    assert board.downloads == []  # refused before anything reached the PL


@pytest.mark.parametrize("name", ["codenet.bit", "codenet.hwh"])
def test_missing_bitstream_or_handoff(board_bundle, tmp_path, capsys, name):
    make_board(board_bundle)
    (board_bundle / name).unlink()
    err = one_line_error(capsys, ["detect", str(SAMPLES[0]), "--bundle", str(board_bundle), "--backend", "pynq",
                                  "--out", str(tmp_path / "out")])
    assert name in err and "missing" in err


def test_cli_on_the_simulated_board(board_bundle, tmp_path, capsys):
    make_board(board_bundle)
    out = tmp_path / "out"
    code = main(["detect", str(SAMPLES[0]), "--bundle", str(board_bundle), "--backend", "pynq", "--out", str(out),
                 "--no-progress", "--score", "0.05"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "frames/s" in captured.out and "pynq" in captured.out
    on_board = json.loads((out / "detections.json").read_text())
    main(["detect", str(SAMPLES[0]), "--bundle", str(board_bundle), "--out", str(tmp_path / "sim"),
          "--no-progress", "--score", "0.05"])
    assert on_board == json.loads((tmp_path / "sim" / "detections.json").read_text())


def test_overlay_sees_finns_block_design(board_bundle):
    """pynq's own parser reads our .hwh as FINN's Zynq design: the IODMAs on GP0 with HLS register maps."""
    make_board(board_bundle)
    ol = Detector(board_bundle, backend="pynq").accelerator.overlay
    assert {k: hex(v["phys_addr"]) for k, v in ol.ip_dict.items() if "phys_addr" in v} == {
        "idma0": "0x40000000", "odma0": "0x40010000"}
    assert ol.idma0.register_map.numReps.address == 0x1C and ol.odma0.register_map.out_V_1.address == 0x10
    assert ol.clock_dict[0]["enable"] == 1 and (ol.clock_dict[0]["divisor0"], ol.clock_dict[0]["divisor1"]) == (10, 1)


def test_pipelined_loop_on_the_board_double_buffers(board_bundle):
    """The pipelined loop on the simulated board: the simulator's detections, frame for frame, with
    two input/output buffer pairs used in turn."""
    from codenet.host.pipeline import pipelined, plain

    board = make_board(board_bundle)
    frames = [(str(p), read_image(p)) for p in SAMPLES[:3]]
    got = list(pipelined(Detector(board_bundle, backend="pynq", score_threshold=0.05), iter(frames)))
    want = list(plain(Detector(board_bundle, backend="sim", score_threshold=0.05), iter(frames)))
    assert [k for k, _, _ in got] == [k for k, _, _ in want]
    for (_, _, g), (_, _, w) in zip(got, want):
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(g, w))
    accel = json.loads((board_bundle / "manifest.json").read_text())["accelerator"]
    packed_in = (1, *accel["input"]["packed_shape"][1:])
    assert [a for a in board.allocations if a[0] == packed_in] == [(packed_in, "uint8", True)] * 2
    assert board.runs == 3 and len(board.flushes) == 3 and len(board.invalidates) == 3
