"""The .hwh (Vivado hardware handoff) of the accelerator's block design, written without Vivado.

FINN's Zynq build (MakeZYNQProject) puts three partitions behind the PS7: idma0 (IODMA: DDR -> stream),
StreamingDataflowPartition_1 (the network) and odma0 (IODMA: stream -> DDR). The IODMAs are HLS IPs
with an s_axilite control port on M_AXI_GP0 and an m_axi port into DDR through S_AXI_HP0. This module
writes that design's handoff from a manifest's "accelerator" section: what pynq's Overlay parses
(PS7 clock parameters, the address map, the IODMA register maps). The board tests run the unmodified
pynq backend against it; a Vivado build writes the real one, with the same names and addresses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from codenet.host.io import write_bytes_atomic

#: AXI-Lite base addresses on M_AXI_GP0 (Vivado's assign_bd_address order), 64 KiB each
BASE_ADDRESSES = {"idma0": 0x4000_0000, "odma0": 0x4001_0000}
RANGE = 0x1_0000
IO_PLL_MHZ = 1000.0  # the PYNQ-Z2 image's IO PLL: 50 MHz x FDIV 20
DDR_RANGE = (0x0000_0000, 0x1FFF_FFFF)  # 512 MiB PS DDR, seen through HP0


def clock_divisors(mhz: float) -> tuple[int, int]:
    """IO PLL divisors (each 1..63) whose product comes closest to `mhz`, as Vivado picks them."""
    best = min(((d0, d1) for d0 in range(1, 64) for d1 in range(1, 64)),
               key=lambda d: (abs(IO_PLL_MHZ / (d[0] * d[1]) - mhz), d[1], d[0]))
    return best


def _params(parent, values: dict):
    el = ET.SubElement(parent, "PARAMETERS")
    for k, v in values.items():
        ET.SubElement(el, "PARAMETER", NAME=k, VALUE=str(v))


def _bus(parent, name: str, kind: str, vlnv: str):
    return ET.SubElement(parent, "BUSINTERFACE", BUSNAME=f"{name}_bus", NAME=name, TYPE=kind, VLNV=vlnv)


AXIMM, AXIS = "xilinx.com:interface:aximm:1.0", "xilinx.com:interface:axis:1.0"


def _ps7(modules, fclk_mhz: float):
    ps = ET.SubElement(modules, "MODULE", FULLNAME="/processing_system7_0", INSTANCE="processing_system7_0",
                       IPTYPE="PERIPHERAL", IS_ENABLE="1", MODCLASS="PROCESSOR", MODTYPE="processing_system7",
                       VLNV="xilinx.com:ip:processing_system7:5.5")
    d0, d1 = clock_divisors(fclk_mhz)
    params = {"PCW_APU_PERIPHERAL_FREQMHZ": 650, "PCW_UIPARAM_DDR_FREQ_MHZ": 525,
              "PCW_USE_M_AXI_GP0": 1, "PCW_USE_S_AXI_HP0": 1, "PCW_S_AXI_HP0_DATA_WIDTH": 64}
    for i in range(4):  # FCLK0 clocks the design; the others stay off, as in FINN's project
        on = i == 0
        params.update({f"PCW_FPGA_FCLK{i}_ENABLE": int(on), f"PCW_FCLK{i}_PERIPHERAL_CLKSRC": "IO PLL",
                       f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0": d0 if on else 1,
                       f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1": d1 if on else 1,
                       f"PCW_FPGA{i}_PERIPHERAL_FREQMHZ": fclk_mhz if on else 0})
    _params(ps, params)
    mm = ET.SubElement(ps, "MEMORYMAP")
    for name, base in BASE_ADDRESSES.items():
        ET.SubElement(mm, "MEMRANGE", ADDRESSBLOCK="Reg", BASENAME="C_BASEADDR", BASEVALUE=hex(base),
                      HIGHNAME="C_HIGHADDR", HIGHVALUE=hex(base + RANGE - 1), INSTANCE=name, IS_DATA="TRUE",
                      IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE="M_AXI_GP0", MEMTYPE="REGISTER",
                      SLAVEBUSINTERFACE="s_axi_control")
    ET.SubElement(ps, "PORTS")
    buses = ET.SubElement(ps, "BUSINTERFACES")
    _bus(buses, "M_AXI_GP0", "MASTER", AXIMM)
    _bus(buses, "S_AXI_HP0", "SLAVE", AXIMM)


def _register(parent, name: str, offset: int, description: str, access: str = "read-write"):
    reg = ET.SubElement(parent, "REGISTER", NAME=name)
    for k, v in (("DESCRIPTION", description), ("ADDRESS_OFFSET", hex(offset)), ("SIZE", "32"),
                 ("ACCESS", access), ("IS_ENABLED", "true")):
        ET.SubElement(reg, "PROPERTY", NAME=k, VALUE=v)
    return reg


def _iodma(modules, name: str, port: dict, registers: dict, to_memory: bool):
    """An IODMA as FINN's HLS writes it: CTRL, GIER, IER, ISR, the 64-bit buffer pointer, numReps."""
    mod = ET.SubElement(modules, "MODULE", FULLNAME=f"/{name}", INSTANCE=name, IPTYPE="PERIPHERAL",
                        IS_ENABLE="1", MODCLASS="PERIPHERAL", MODTYPE=name,
                        VLNV=f"xilinx_finn:finn:{name}:1.0")
    _params(mod, {"C_S_AXI_CONTROL_ADDR_WIDTH": 6, "C_S_AXI_CONTROL_DATA_WIDTH": 32,
                  "C_M_AXI_GMEM_DATA_WIDTH": 64, "STREAM_WIDTH": port["stream_bits"],
                  "DATATYPE": port["datatype"]})
    blocks = ET.SubElement(mod, "ADDRESSBLOCKS")
    block = ET.SubElement(blocks, "ADDRESSBLOCK", ACCESS="read-write", INTERFACE="s_axi_control", NAME="Reg",
                          RANGE=str(RANGE), USAGE="register")
    ctrl = _register(block, "CTRL", registers["ctrl"], "Control signals")
    for bit, field in enumerate(("AP_START", "AP_DONE", "AP_IDLE", "AP_READY")):
        f = ET.SubElement(ctrl, "FIELD", NAME=field)
        for k, v in (("BIT_OFFSET", str(bit)), ("BIT_WIDTH", "1"), ("ACCESS", "read-write")):
            ET.SubElement(f, "PROPERTY", NAME=k, VALUE=v)
    _register(block, "GIER", 0x04, "Global Interrupt Enable Register")
    _register(block, "IP_IER", 0x08, "IP Interrupt Enable Register")
    _register(block, "IP_ISR", 0x0C, "IP Interrupt Status Register")
    pointer = "out_V" if to_memory else "in0_V"
    _register(block, f"{pointer}_1", registers["addr_lo"], f"Data signal of {pointer} (bits 31:0)")
    _register(block, f"{pointer}_2", registers["addr_hi"], f"Data signal of {pointer} (bits 63:32)")
    _register(block, "numReps", registers["num_images"], "Data signal of numReps")
    mm = ET.SubElement(mod, "MEMORYMAP")
    ET.SubElement(mm, "MEMRANGE", ADDRESSBLOCK="HP0_DDR_LOWOCM", BASENAME="C_BASEADDR",
                  BASEVALUE=hex(DDR_RANGE[0]), HIGHNAME="C_HIGHADDR", HIGHVALUE=hex(DDR_RANGE[1]),
                  INSTANCE="processing_system7_0", IS_DATA="TRUE", IS_INSTRUCTION="TRUE",
                  MASTERBUSINTERFACE="m_axi_gmem", MEMTYPE="MEMORY", SLAVEBUSINTERFACE="S_AXI_HP0")
    ET.SubElement(mod, "PORTS")
    buses = ET.SubElement(mod, "BUSINTERFACES")
    _bus(buses, "s_axi_control", "SLAVE", AXIMM)
    _bus(buses, "m_axi_gmem", "MASTER", AXIMM)
    _bus(buses, "in0_V" if to_memory else "out_V", "SLAVE" if to_memory else "MASTER", AXIS)


def _dataflow(modules):
    mod = ET.SubElement(modules, "MODULE", FULLNAME="/StreamingDataflowPartition_1",
                        INSTANCE="StreamingDataflowPartition_1", IPTYPE="PERIPHERAL", IS_ENABLE="1",
                        MODCLASS="PERIPHERAL", MODTYPE="StreamingDataflowPartition_1",
                        VLNV="xilinx_finn:finn:StreamingDataflowPartition_1:1.0")
    ET.SubElement(mod, "PORTS")
    buses = ET.SubElement(mod, "BUSINTERFACES")
    _bus(buses, "s_axis_0", "SLAVE", AXIS)
    _bus(buses, "m_axis_0", "MASTER", AXIS)


def accelerator_hwh(accel: dict, name: str = "top") -> bytes:
    """The handoff XML of FINN's Zynq block design for an "accelerator" manifest section."""
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="codenet", VIVADOVERSION="2024.1")
    ET.SubElement(root, "SYSTEMINFO", ARCH="zynq", BOARD="tul.com.tw:pynq-z2:part0:1.0", DEVICE="7z020",
                  NAME=name, PACKAGE="clg400", SPEEDGRADE="-1")
    ET.SubElement(root, "EXTERNALPORTS")
    ET.SubElement(root, "EXTERNALINTERFACES")
    modules = ET.SubElement(root, "MODULES")
    _ps7(modules, accel["fclk_mhz"])
    _iodma(modules, accel["input"]["dma"], accel["input"], accel["registers"], to_memory=False)
    _dataflow(modules)
    _iodma(modules, accel["output"]["dma"], accel["output"], accel["registers"], to_memory=True)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root) + b"\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Write the accelerator's reference .hwh from a bundle manifest.")
    p.add_argument("bundle", help="bundle folder (reads manifest.json)")
    p.add_argument("--out", required=True, help="the .hwh to write")
    args = p.parse_args(argv)
    accel = json.loads((Path(args.bundle) / "manifest.json").read_text())["accelerator"]
    write_bytes_atomic(accelerator_hwh(accel), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
