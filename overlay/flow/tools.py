"""The Xilinx tools the flow's last steps call, looked up as those steps look them up (on PATH)."""

from __future__ import annotations

import os
import shutil

#: (program, what it does here): FINN's IP generation calls vitis_hls, its stitching and synthesis vivado
TOOLS = (("vivado", "stitched IP, synthesis, bitstream"), ("vitis_hls", "HLS IP generation"))


def find_tool(program: str, environ=None) -> str | None:
    """The program on PATH, as the FINN step that runs it looks it up."""
    environ = os.environ if environ is None else environ
    return shutil.which(program, path=environ.get("PATH", ""))


def missing_tools(programs=None, environ=None) -> list[str]:
    """One phrase per tool of `programs` (default: all of TOOLS) not on PATH, saying how to put it there."""
    wanted = [(prog, what) for prog, what in TOOLS if programs is None or prog in programs]
    return [f"{prog} ({what}): not on PATH (source <Xilinx install>/{'Vivado' if prog == 'vivado' else 'Vitis'}"
            f"/2024.2/settings64.sh)" for prog, what in wanted if find_tool(prog, environ) is None]
