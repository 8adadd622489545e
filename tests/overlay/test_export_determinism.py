"""One model file, one accelerator: exporting the shipped model gives the shipped graph.npz byte for byte,
whatever the threads, SIMD level or BLAS core type of the machine, and whatever its float parameters say.

The deployed integers live in the model file (codenet-model/2); these tests fail if anything after it
re-derives them from floats.
"""

import copy
import hashlib
import os
import subprocess
import sys

import torch

from codenet.host.bundle import DEFAULT_BUNDLE
from codenet.model.checkpoint import load_model, save_model
from codenet.model.cli import DEFAULT_MODEL
from codenet.model.export import export
from codenet.overlay.flow.steps import build_bundle
from codenet.overlay.estimate.folding import SHIPPED_FOLDING, load_folding

# each setting takes both of its values across the two runs; the in-process export is a third
SETTINGS = {
    "one-thread-default-simd": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
    "two-threads-best-simd-haswell-blas": {"OMP_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "Haswell"},
}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_is_byte_identical_under_every_setting(tmp_path):
    shipped = sha256(DEFAULT_BUNDLE / "graph.npz")
    runs = {}
    for name, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE")}
        cmd = [sys.executable, "-m", "codenet.host.cli", "export", "--model", str(DEFAULT_MODEL),
               "--out", str(tmp_path / name), "--folding", str(SHIPPED_FOLDING)]
        runs[name] = subprocess.Popen(cmd, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{name}: {err.strip().splitlines()[-1:]}"
        assert sha256(tmp_path / name / "bundle" / "graph.npz") == shipped, name


def test_floats_after_the_model_file_do_not_reach_the_bundle(tmp_path):
    """One ulp on a BN parameter, the input scale and a weight of the loaded model: the same bundle."""
    model, classes, meta = load_model(DEFAULT_MODEL)
    with torch.no_grad():
        for t in (model.stem.bn.bias, model.backbone[2].pw.bn.running_var, model.neck[0].dw.bn.weight):
            t.copy_(torch.nextafter(t, torch.full_like(t, float("inf"))))
        model.stem.in_scale.mul_(1.0001)
        model.head.out.conv.weight.mul_(1.01)
    perturbed = tmp_path / "perturbed.pt"
    save_model(model, classes, perturbed, meta)
    card = export(perturbed, tmp_path / "export")
    build_bundle(tmp_path / "export" / "model.onnx", card, tmp_path / "bundle", load_folding(SHIPPED_FOLDING))
    assert sha256(tmp_path / "bundle" / "graph.npz") == sha256(DEFAULT_BUNDLE / "graph.npz")


def test_the_shipped_model_stores_its_integers():
    model, _, _ = load_model(DEFAULT_MODEL)
    assert model.is_quant and model.has_integers
    fresh = copy.deepcopy(model)
    for layer in fresh.quant_layers().values():
        layer.frozen = None  # what QAT's forward would derive from today's floats, on this machine
    stored, derived = model.deployed_integers(), fresh.deployed_integers()
    assert stored.keys() == derived.keys()
    for name in stored:
        for key, value in stored[name].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(derived[name][key])), (name, key)
