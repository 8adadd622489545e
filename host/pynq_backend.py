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
        self.batch, self.ibuf, self.obuf = 0, None, None

    def _buffers(self, n: int):
        """Packed uint8 buffers for n images, reallocated only when the batch size changes."""
        if n != self.batch:
            self.close()
            ishape = (n, *self.inp["packed_shape"][1:])
            oshape = (n, *self.out["packed_shape"][1:])
            # cacheable, as FINN's Zynq driver: fast ARM access; flush/invalidate keep the PL's view right
            self.ibuf = self.pynq.allocate(shape=ishape, dtype=np.uint8, cacheable=True)
            self.obuf = self.pynq.allocate(shape=oshape, dtype=np.uint8, cacheable=True)
            self.batch = n
        return self.ibuf, self.obuf

    def _start(self, ip, buf, n: int):
        addr = int(buf.physical_address)
        ip.write(self.regs["addr_lo"], addr & 0xFFFFFFFF)
        ip.write(self.regs["addr_hi"], addr >> 32)
        ip.write(self.regs["num_images"], int(n))
        ip.write(self.regs["ctrl"], int(self.regs["ap_start"]))

    def _wait(self):
        deadline = time.monotonic() + self.timeout_s
        ctrl, done = self.regs["ctrl"], int(self.regs["ap_done"])
        while not self.odma.read(ctrl) & done:
            if time.monotonic() > deadline:
                raise CodenetError(f"the accelerator did not finish within {self.timeout_s:g} s "
                                   f"({self.out['dma']} never signalled ap_done): is the bitstream loaded?")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        want = tuple(self.inp["shape"][1:])
        if images.ndim != 4 or images.shape[1:] != want or images.dtype != np.uint8:
            raise CodenetError(f"accelerator input must be (N, {', '.join(map(str, want))}) uint8, "
                               f"got {images.shape} {images.dtype}")
        n = images.shape[0]
        ibuf, obuf = self._buffers(n)
        folded = images.reshape(n, *self.inp["folded_shape"][1:])
        ibuf[:] = pack(folded, self.inp["datatype"])
        ibuf.flush()
        self._start(self.odma, obuf, n)
        self._start(self.idma, ibuf, n)
        self._wait()
        obuf.invalidate()
        acc = unpack(np.asarray(obuf), self.out["datatype"], self.out["folded_shape"][-1])
        return acc.reshape(n, *self.out["shape"][1:])

    def close(self):
        for buf in (self.ibuf, self.obuf):
            if buf is not None:
                buf.freebuffer()
        self.batch, self.ibuf, self.obuf = 0, None, None
