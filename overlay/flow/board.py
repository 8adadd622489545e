"""The board build config (overlay/pynq-z2.yaml): one typed dataclass, every field checked on load."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.model.config import reject_unknown_keys

DEFAULT_BOARD = Path(__file__).parents[1] / "pynq-z2.yaml"  # overlay/, beside the folding
SHELLS = ("VIVADO_ZYNQ",)  # the PYNQ-Z2 has no Alveo/Vitis shell
# "computed": every FIFO at the depth overlay/flow/fifos.py computes. FINN's own sizing methods are refused:
# distributed_sim and live_fifo size by RTL simulation (Vivado's XSI), force_minimal_fifos ignores what
# a join needs
FIFO_SIZING = ("computed",)
DEVICE_KEYS = ("lut", "ff", "bram18", "dsp", "lutram")
LIMIT_KEYS = ("lut_pct", "bram36_pct", "dsp")
COST_KEYS = ("lut", "bram18", "dsp")


@dataclass(frozen=True)
class BoardConfig:
    board: str
    part: str
    shell: str
    clock_mhz: float
    target_fps: float
    fifo_sizing: str
    device: dict
    limits: dict
    shell_cost: dict
    sweep_fps: tuple
    arm_slowdown: float

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    def target_cycles(self, fps: float | None = None) -> int:
        """Cycles one frame may take at the clock (the slowest layer's budget)."""
        return int(self.clock_hz / (fps or self.target_fps))

    def with_target(self, fps: float) -> BoardConfig:
        return dataclasses.replace(self, target_fps=float(fps))


def _number(data: dict, key: str, where: str, lo: float = 0, integer: bool = False):
    value = data.get(key)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= lo:
        raise CodenetError(f"{where}: {key} must be a {'whole ' if integer else ''}number above {lo}, got {value!r}")
    return value


def _table(data: dict, key: str, keys: tuple, where: str) -> dict:
    table = data.get(key)
    if not isinstance(table, dict):
        raise CodenetError(f"{where}: {key} must be a mapping with {', '.join(keys)}")
    unknown, missing = sorted(set(table) - set(keys)), [k for k in keys if k not in table]
    if unknown or missing:
        raise CodenetError(f"{where}: {key} " + (f"has unknown keys {', '.join(unknown)}" if unknown
                                                 else f"lacks {', '.join(missing)}"))
    for k in keys:
        if isinstance(table[k], bool) or not isinstance(table[k], (int, float)) or table[k] < 0:
            raise CodenetError(f"{where}: {key}.{k} must be a number >= 0, got {table[k]!r}")
    return dict(table)


def load_board(path=None) -> BoardConfig:
    """YAML file -> BoardConfig; anything wrong is one CodenetError line naming the file and the key."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_BOARD
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CodenetError(f"{path}: no such board config") from None
    except yaml.YAMLError as e:
        raise CodenetError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CodenetError(f"{path}: a board config is a mapping of keys")
    where = str(path)
    reject_unknown_keys(BoardConfig, data, f"keys in {where}")
    for key in ("board", "part"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise CodenetError(f"{where}: {key} must be a name, got {data.get(key)!r}")
    for key, allowed in (("shell", SHELLS), ("fifo_sizing", FIFO_SIZING)):
        if data.get(key) not in allowed:
            raise CodenetError(f"{where}: {key} {data.get(key)!r} is not one of {', '.join(allowed)}")
    sweep = data.get("sweep_fps")
    if not isinstance(sweep, list) or not sweep or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in sweep):
        raise CodenetError(f"{where}: sweep_fps must be a list of frame rates above 0, got {sweep!r}")
    cfg = BoardConfig(
        board=data["board"], part=data["part"], shell=data["shell"],
        clock_mhz=_number(data, "clock_mhz", where), target_fps=_number(data, "target_fps", where),
        fifo_sizing=data["fifo_sizing"], device=_table(data, "device", DEVICE_KEYS, where),
        limits=_table(data, "limits", LIMIT_KEYS, where), shell_cost=_table(data, "shell_cost", COST_KEYS, where),
        sweep_fps=tuple(sorted(float(v) for v in sweep)), arm_slowdown=_number(data, "arm_slowdown", where))
    if cfg.limits["lut_pct"] > 100 or cfg.limits["bram36_pct"] > 100:
        raise CodenetError(f"{where}: limits in % must be at most 100")
    if cfg.limits["dsp"] > cfg.device["dsp"]:
        raise CodenetError(f"{where}: limits.dsp {cfg.limits['dsp']} is more than the device has ({cfg.device['dsp']})")
    return cfg
