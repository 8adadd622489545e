"""Atomic checkpoint and model files, and loading that turns any damage into one clear error."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from codenet.host.errors import CodenetError

MODEL_FORMAT = "codenet-model/1"
CHECKPOINT_FORMAT = "codenet-checkpoint/1"


def save_atomic(obj, path) -> None:
    """torch.save to a temp file beside `path`, fsync, then rename: a crash leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path, expected_format: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CodenetError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CodenetError(f"{path}: corrupt or not a checkpoint ({reason[:120]})") from None
    if not isinstance(obj, dict) or obj.get("format") != expected_format:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CodenetError(f"{path}: expected a {expected_format} file, found {found!r}")
    return obj


def load_model(path):
    """A trained model file -> (CoDeNet in eval mode, class names, metadata)."""
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet

    obj = load(path, MODEL_FORMAT)
    model = CoDeNet(ModelConfig.from_dict(obj["config"]))
    try:
        model.load_state_dict(obj["state"])
    except RuntimeError as e:
        raise CodenetError(f"{path}: weights do not match its config ({str(e).splitlines()[0][:120]})") from None
    return model.eval(), list(obj["classes"]), obj.get("meta", {})


def plain(obj):
    """Plain Python (numbers, strings, lists, dicts) that torch's weights-only loader accepts."""
    import json

    return json.loads(json.dumps(obj, default=float))


def save_model(model, classes, path, meta=None) -> None:
    save_atomic({"format": MODEL_FORMAT, "config": plain(model.cfg.to_dict()), "classes": list(classes),
                 "quantized": model.is_quant, "state": model.state_dict(), "meta": plain(meta or {})}, path)
