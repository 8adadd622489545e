"""A simulated PYNQ-Z2 for the real pynq 3.1.2 package: the board tests run the unmodified pynq backend.

`SimulatedBoard` is a pynq `Device` (probe priority 10, ahead of the real EmbeddedDevice's 50) that
  * parses the overlay's .hwh with pynq's own metadata parser (the board's EmbeddedDevice does the
    same, plus xclbinutil, which only exists on the board),
  * backs every AXI-Lite register with memory, the SLCR clock registers pre-set as the PYNQ-Z2 boots
    (50 MHz reference, ARM PLL x26 / 2 = 650 MHz CPU, IO PLL x20 = 1000 MHz, FCLK0 = IO PLL / 10 / 1),
  * gives `allocate` PynqBuffers whose device side (the "DDR") is separate from the host view, so a
    missing flush or invalidate shows up as wrong data, and
  * models FINN's IODMAs by their HLS register map (hard-coded here, not read from the manifest):
    when both idma0 and odma0 have been started it reads the input buffer from "DDR", unpacks it with
    a plain big-integer reading of FINN's convention, runs the bit-exact simulator, packs the result
    the same way into odma0's buffer and raises ap_done (clear on read, as HLS does).
"""

from __future__ import annotations

import numpy as np
import pynq
from pynq.buffer import PynqBuffer
from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
from pynqmetadata.frontends import Metadata

SLCR_BASE, SLCR_SIZE = 0xF800_0000, 0x1000
# Zynq-7000 TRM: PLL_FDIV is bits 18:12; ARM_CLK_CTRL DIVISOR 13:8, SRCSEL 5:4; FPGAn_CLK_CTRL
# DIVISOR1 25:20, DIVISOR0 13:8, SRCSEL 5:4 (0 = IO PLL)
SLCR_BOOT = {0x100: 26 << 12, 0x104: 21 << 12, 0x108: 20 << 12, 0x120: 2 << 8,
             0x170: (1 << 20) | (10 << 8), 0x180: (1 << 20) | (7 << 8), 0x190: (1 << 20) | (10 << 8),
             0x1A0: (1 << 20) | (10 << 8)}
# FINN's IODMA (HLS s_axilite): CTRL, buffer pointer lo/hi, numReps
CTRL, ADDR_LO, ADDR_HI, NUM_REPS = 0x00, 0x10, 0x14, 0x1C
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4
DDR_BASE = 0x1000_0000


def _bits(datatype: str) -> tuple[int, bool]:
    return (int(datatype[4:]), False) if datatype.startswith("UINT") else (int(datatype[3:]), True)


def unpack_rows(data: bytes, datatype: str, fold: int, rows: int) -> np.ndarray:
    """FINN's layout read literally: each row one little-endian integer, element i at bits [i*b, (i+1)*b)."""
    bits, signed = _bits(datatype)
    width = (fold * bits + 7) // 8
    out = np.empty((rows, fold), np.int64)
    for r in range(rows):
        v = int.from_bytes(data[r * width:(r + 1) * width], "little")
        for i in range(fold):
            e = (v >> (i * bits)) & ((1 << bits) - 1)
            out[r, i] = e - (1 << bits) if signed and e >> (bits - 1) else e
    return out


def pack_rows(values: np.ndarray, datatype: str) -> bytes:
    bits, _ = _bits(datatype)
    rows = values.reshape(-1, values.shape[-1])
    width = (rows.shape[1] * bits + 7) // 8
    out = bytearray()
    for row in rows.tolist():
        v = 0
        for i, e in enumerate(row):
            v |= (e & ((1 << bits) - 1)) << (i * bits)
        out += v.to_bytes(width, "little")
    return bytes(out)


class SimulatedBoard(pynq.Device):
    _probe_priority_ = 10

    @classmethod
    def _probe_(cls):
        return []  # never found by itself: a test installs one with `install(board)`

    def __init__(self, accelerator: dict, simulate, hang: bool = False):
        super().__init__("Pynq-Z2 (simulated)")
        self.name = self.tag
        self.arch = "armv7l"  # pynq picks its Zynq-7000 clock model by the device's architecture
        self.capabilities = {"REGISTER_RW": True}  # every register access goes through read/write_registers
        self.accelerator, self.simulate, self.hang = accelerator, simulate, hang
        self.regions = {SLCR_BASE: bytearray(SLCR_SIZE)}
        for off, value in SLCR_BOOT.items():
            self._store(SLCR_BASE + off, value.to_bytes(4, "little"))
        self.ddr = {}  # device address -> bytearray: what the PL sees
        self.next_address = DDR_BASE
        self.downloads, self.flushes, self.invalidates, self.allocations, self.runs = [], [], [], [], 0
        self.started = set()

    # --- pynq Device interface --------------------------------------------------------------------
    def get_bitfile_metadata(self, bitfile_name, partial=False):
        hwh = str(bitfile_name)[: -len(".bit")] + ".hwh"
        parser = RuntimeMetadataParser(Metadata(input=hwh))
        parser.bin_data = parser.xclbin_data = parser.dtbo_data = None
        for ip in parser.ip_dict.values():
            if "phys_addr" in ip:
                self.regions.setdefault(ip["phys_addr"], bytearray(ip["addr_range"]))
        self.ips = {name: ip["phys_addr"] for name, ip in parser.ip_dict.items() if "phys_addr" in ip}
        return parser

    def download(self, bitstream, parser=None):
        self.downloads.append(bitstream.bitfile_name)
        self.post_download(bitstream, parser, self.name)

    def read_registers(self, address, length):
        region, off = self._region(address, length)
        data = bytes(region[off:off + length])
        if self._ip_at(address) is not None and address - self._ip_base(address) == CTRL:
            region[off] &= ~AP_DONE & 0xFF  # ap_done is clear-on-read
        return data

    def write_registers(self, address, data):
        self._store(address, data)
        name = self._ip_at(address)
        if name is not None and address - self.ips[name] == CTRL and data[0] & AP_START:
            self.started.add(name)
            if {self.accelerator["input"]["dma"], self.accelerator["output"]["dma"]} <= self.started:
                self.started.clear()
                if not self.hang:
                    self._run()

    def allocate(self, shape, dtype, cacheable=False, **kwargs):
        # always modelled as cacheable (coherent=False): the device sees only what the host flushed
        self.allocations.append((tuple(shape), np.dtype(dtype).name, bool(cacheable)))
        buf = PynqBuffer(shape, dtype, device=self, device_address=self.next_address, bo=self.next_address,
                         coherent=False)
        buf[...] = 0xA5  # garbage, as fresh memory would hold
        self.ddr[self.next_address] = bytearray(b"\x5a" * buf.nbytes)  # and other garbage on the device side
        self.next_address += (buf.nbytes + 0xFFF) & ~0xFFF
        return buf

    def flush(self, bo, offset, vaddr, length):  # host view -> DDR
        self.flushes.append(bo)
        import ctypes

        self.ddr[bo][offset:offset + length] = ctypes.string_at(vaddr, length)

    def invalidate(self, bo, offset, vaddr, length):  # DDR -> host view
        self.invalidates.append(bo)
        import ctypes

        ctypes.memmove(vaddr, bytes(self.ddr[bo][offset:offset + length]), length)

    # --- the hardware -------------------------------------------------------------------------------
    def _run(self):
        acc = self.accelerator
        idma, odma = self.ips[acc["input"]["dma"]], self.ips[acc["output"]["dma"]]
        n = self._word(idma + NUM_REPS)
        assert n == self._word(odma + NUM_REPS), "idma and odma disagree on the image count"
        src = self._ddr_at(self._word(idma + ADDR_LO) | self._word(idma + ADDR_HI) << 32)
        dst_addr = self._word(odma + ADDR_LO) | self._word(odma + ADDR_HI) << 32
        inp, out = acc["input"], acc["output"]
        rows = n * int(np.prod(inp["packed_shape"][1:-1]))
        images = unpack_rows(bytes(src), inp["datatype"], inp["folded_shape"][-1], rows)
        result = self.simulate(images.astype(np.uint8).reshape(n, *inp["shape"][1:]))
        packed = pack_rows(np.asarray(result, np.int64).reshape(n, *out["folded_shape"][1:]), out["datatype"])
        dst = self._ddr_at(dst_addr)
        assert len(packed) <= len(dst), "output buffer too small"
        dst[:len(packed)] = packed
        for base in (idma, odma):
            self._store(base + CTRL, (AP_DONE | AP_IDLE).to_bytes(4, "little"))
        self.runs += 1

    def _region(self, address, length):
        for base, region in self.regions.items():
            if base <= address and address + length <= base + len(region):
                return region, address - base
        raise AssertionError(f"access to unmapped address {address:#x}")

    def _store(self, address, data):
        region, off = self._region(address, len(data))
        region[off:off + len(data)] = data

    def _word(self, address) -> int:
        region, off = self._region(address, 4)
        return int.from_bytes(region[off:off + 4], "little")

    def _ip_at(self, address):
        for name, base in getattr(self, "ips", {}).items():
            if base <= address < base + len(self.regions[base]):
                return name
        return None

    def _ip_base(self, address):
        return self.ips[self._ip_at(address)]

    def _ddr_at(self, address) -> bytearray:
        if address not in self.ddr:
            raise AssertionError(f"DMA from {address:#x}: not the start of an allocated buffer")
        return self.ddr[address]


def install(board: SimulatedBoard):
    """Make `board` the device pynq uses (what the board's probe would find)."""
    pynq.Device.active_device = board
    return board
