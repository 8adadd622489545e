"""Data-parallel training with torchrun: two CPU processes (gloo) train one model in step."""

import json
import os
import subprocess
import sys

import pytest
import torch

from codenet.model.checkpoint import load_model


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")
def test_two_processes_train_one_model(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "codenet.host.cli", "train", "--config", "codenet-tiny", "--out", str(out), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model, _, meta = load_model(out / "model.pt")
    assert model.is_quant and meta["processes"] == 2
    log = json.loads((out / "log.json").read_text())
    assert [row["phase"] for row in log] == ["float", "qat"]
    # one result line, from rank 0 alone
    assert sum(line.startswith("{") for line in proc.stdout.splitlines()) == 1
