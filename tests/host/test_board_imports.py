"""The host package must run on the board: numpy (and pynq) only, Python 3.10 syntax."""

import subprocess
import sys
from pathlib import Path

HOST = Path(__file__).resolve().parents[2] / "host"

BLOCK = """
import sys, importlib, pkgutil
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'brevitas', 'finn', 'qonnx', 'onnx', 'onnxruntime', 'scipy', 'sklearn',
                                  'finn_plus_driver', 'pynq', 'cv2'}:  # pynq, cv2: imported only when used
            raise ImportError('blocked on the board: ' + name)
sys.meta_path.insert(0, Block())
import codenet.host
for m in pkgutil.walk_packages(codenet.host.__path__, 'codenet.host.'):
    importlib.import_module(m.name)
from codenet.host.cli import build_parser
build_parser()  # every subcommand's arguments, as `codenet --help` builds them
"""


def test_host_imports_without_ml_packages():
    p = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_host_is_python_310_compatible():
    vermin = Path(sys.executable).parent / "vermin"
    p = subprocess.run([str(vermin), "--no-tips", "--violations", "-t=3.10-", str(HOST)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_version_check_can_fail(tmp_path):
    (tmp_path / "new.py").write_text("import tomllib\n")  # 3.11+: what the board's Python 3.10 lacks
    vermin = Path(sys.executable).parent / "vermin"
    p = subprocess.run([str(vermin), "--no-tips", "--violations", "-t=3.10-", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode != 0
