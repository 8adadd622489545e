"""The `pynq` backend: the bundle's bitstream on the PYNQ-Z2 (pynq 3.1.x), driven as FINN's Zynq driver does.

FINN's zynq-iodma platform has no AXI DMA: its HLS IODMAs idma0 (DDR -> stream) and odma0 (stream ->
DDR) are started over AXI-Lite. Per batch: pack the uint8 NHWC images into the input buffer (flush),
write each buffer's address (0x10 lo, 0x14 hi) and the image count (0x1C), start odma0 then idma0
(0x00 = 1: the sink is ready before the source streams), poll odma0's ap_done (0x00 bit 1) until the
timeout, invalidate and unpack the head's accumulators. Names, shapes, widths, register offsets and
the clock all come from the manifest's "accelerator" section.
"""

from __future__ import annotations

import time

import numpy as np

from codenet.host.bundle import Bundle, verify_file
from codenet.host.errors import CodenetError
from codenet.host.packing import pack, unpack

DEFAULT_TIMEOUT_S = 5.0
POLL_S = 50e-6


def accelerator_of(bundle: Bundle) -> dict:
    accel = bundle.manifest.get("accelerator")
    if not isinstance(accel, dict):
        raise CodenetError(f"{bundle.path}: the manifest has no 'accelerator' section (a bundle made before "
                           f"the pynq backend existed): re-export it")
    if accel.get("platform") != "zynq-iodma":
        raise CodenetError(f"{bundle.path}: accelerator platform {accel.get('platform')!r}, the pynq backend "
                           f"drives 'zynq-iodma'")
    return accel


class PynqAccelerator:
    """`PynqAccelerator(bundle)(images)`: (N, S, S, 3) uint8 -> (N, H, W, C) int32 from the FPGA."""

    def __init__(self, bundle: Bundle, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.accel = accel = accelerator_of(bundle)
        # hashes first: a bitstream of another build is refused before anything touches the PL
        for name in (accel["bitfile"], accel["hwh"]):
            if name not in bundle.manifest.get("files", {}):
                raise CodenetError(f"{bundle.path}: no bitstream in this bundle (the manifest lists no {name}): "
                                   f"`make overlay` builds {accel['bitfile']} and {accel['hwh']} into "
                                   f"build/overlay/bundle (Vivado + Vitis HLS); pass that folder with --bundle")
        bit = verify_file(bundle.path, bundle.manifest, accel["bitfile"])
        verify_file(bundle.path, bundle.manifest, accel["hwh"])
        try:
            import pynq
        except ImportError:
            raise CodenetError("the pynq backend needs the pynq package (the PYNQ-Z2 image has it); "
                               "off the board use --backend sim") from None
        self.pynq = pynq
        self.timeout_s = float(timeout_s)
        self.regs = accel["registers"]
        self.inp, self.out = accel["input"], accel["output"]
        try:
            self.overlay = pynq.Overlay(str(bit))  # downloads the bitstream; sets the PL clocks from the .hwh
        except RuntimeError as e:  # pynq reports a missing device or bad metadata this way
            raise CodenetError(f"{bit}: cannot load the overlay ({e})") from None
        fclk = float(accel["fclk_mhz"])
        if abs(pynq.Clocks.fclk0_mhz - fclk) > 0.01 * fclk:  # as FINN's driver: the clock it was built for
            pynq.Clocks.fclk0_mhz = fclk
        try:
            self.idma = getattr(self.overlay, self.inp["dma"])
            self.odma = getattr(self.overlay, self.out["dma"])
        except AttributeError:
            raise CodenetError(f"{bit}: the design has no {self.inp['dma']}/{self.out['dma']} "
                               f"(IPs: {', '.join(sorted(self.overlay.ip_dict))})") from None
        self.batch, self.slots, self.running, self.last_run_s, self.started_at = 0, {}, None, 0.0, 0.0

    def _buffers(self, n: int, slot: int = 0):
        """Packed uint8 buffers of `slot` for n images (two slots double-buffer the pipelined loop),
        reallocated only when the batch size changes."""
        if n != self.batch:
            self.close()
            self.batch = n
        if slot not in self.slots:
            ishape = (n, *self.inp["packed_shape"][1:])
            oshape = (n, *self.out["packed_shape"][1:])
            # cacheable, as FINN's Zynq driver: fast ARM access; flush/invalidate keep the PL's view right
            self.slots[slot] = (self.pynq.allocate(shape=ishape, dtype=np.uint8, cacheable=True),
                                self.pynq.allocate(shape=oshape, dtype=np.uint8, cacheable=True))
        return self.slots[slot]
    def _start(self, ip, buf, n: int):
        addr = int(buf.physical_address)
        ip.write(self.regs["addr_lo"], addr & 0xFFFFFFFF)
        ip.write(self.regs["addr_hi"], addr >> 32)
        ip.write(self.regs["num_images"], int(n))
        ip.write(self.regs["ctrl"], int(self.regs["ap_start"]))

    def _wait(self):
        """Poll odma's ap_done. The first poll comes after most of the previous run's time: each poll
        holds the GIL, which the pipelined loop's other threads need meanwhile."""
        deadline = time.monotonic() + self.timeout_s
        ctrl, done = self.regs["ctrl"], int(self.regs["ap_done"])
        if self.last_run_s:
            time.sleep(max(0.0, 0.8 * self.last_run_s - (time.perf_counter() - self.started_at)))
        while not self.odma.read(ctrl) & done:
            if time.monotonic() > deadline:
                raise CodenetError(f"the accelerator did not finish within {self.timeout_s:g} s "
                                   f"({self.out['dma']} never signalled ap_done): is the bitstream loaded?")
            time.sleep(POLL_S)
        self.last_run_s = time.perf_counter() - self.started_at

    def load(self, images: np.ndarray, slot: int = 0):
        """Pack images into `slot`'s input buffer and flush it: the ARM's side, while the PL may still
        be busy with the other slot."""
        images = np.asarray(images)
        want = tuple(self.inp["shape"][1:])
        if images.ndim != 4 or images.shape[1:] != want or images.dtype != np.uint8:
            raise CodenetError(f"accelerator input must be (N, {', '.join(map(str, want))}) uint8, "
                               f"got {images.shape} {images.dtype}")
        n = images.shape[0]
        ibuf, _ = self._buffers(n, slot)
        ibuf[:] = pack(images.reshape(n, *self.inp["folded_shape"][1:]), self.inp["datatype"])
        ibuf.flush()

    def start(self, slot: int = 0):
        """Start the PL on `slot`'s loaded input (odma first: the sink is ready before the source streams)."""
        ibuf, obuf = self.slots[slot]
        self.started_at = time.perf_counter()
        self._start(self.odma, obuf, self.batch)
        self._start(self.idma, ibuf, self.batch)
        self.running = slot

    def wait(self):
        """Wait for the run in progress; its output buffer is then the ARM's to read."""
        if self.running is not None:
            slot, self.running = self.running, None
            self._wait()
            self.slots[slot][1].invalidate()

    def collect(self, slot: int = 0) -> np.ndarray:
        """The accumulators of `slot`'s run (waiting for it if it is the one in progress), unpacked into a
        copy: the slot is free again."""
        if self.running == slot:
            self.wait()
        acc = unpack(np.asarray(self.slots[slot][1]), self.out["datatype"], self.out["folded_shape"][-1])
        return acc.reshape(self.batch, *self.out["shape"][1:])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.load(images)
        self.start()
        return self.collect()

    def close(self):
        for ibuf, obuf in self.slots.values():
            ibuf.freebuffer()
            obuf.freebuffer()
        self.batch, self.slots, self.running = 0, {}, None
