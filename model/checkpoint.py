"""Atomic checkpoint and model files, and loading that turns any damage into one clear error."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from codenet.host.calibration import ScoreCalibration
from codenet.host.errors import CodenetError
from codenet.host.io import write_bytes_atomic

#: /2 stores the deployed integers beside the float parameters; /1 stored parameters only
MODEL_FORMAT = "codenet-model/2"
MODEL_FORMAT_V1 = "codenet-model/1"
CHECKPOINT_FORMAT = "codenet-checkpoint/1"


def save_atomic(obj, path) -> None:
    """torch.save through the one atomic writer: a crash leaves the old file intact."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(buffer.getvalue(), path)


def load(path, expected_format: str, also: tuple[str, ...] = ()) -> dict:
    """Read a file of `expected_format` (or one of `also`): any damage is one CodenetError."""
    path = Path(path)
    if not path.is_file():
        raise CodenetError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CodenetError(f"{path}: corrupt or not a checkpoint ({reason[:120]})") from None
    if not isinstance(obj, dict) or obj.get("format") not in (expected_format, *also):
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CodenetError(f"{path}: expected a {expected_format} file, found {found!r}")
    return obj


def load_model(path):
    """A trained model file -> (CoDeNet in eval mode, its score calibration attached, class names, metadata).

    A W4A8 model comes with its stored integers fixed: evaluation and export run on exactly those.
    """
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet

    obj = _load_model_file(path)
    if obj["format"] == MODEL_FORMAT_V1 and obj.get("quantized"):
        raise CodenetError(f"{path}: a {MODEL_FORMAT_V1} W4A8 model, which stores no deployed integers; convert "
                           f"it once with: codenet upgrade-model {path} NEW.pt")
    model = CoDeNet(ModelConfig.from_dict(obj["config"]))
    try:
        model.load_state_dict(obj["state"])
        if obj.get("integers") is not None:
            model.load_integers(obj["integers"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise CodenetError(f"{path}: weights do not match its config ({str(e).splitlines()[0][:120]})") from None
    if model.is_quant and not model.has_integers:
        raise CodenetError(f"{path}: a W4A8 model without its deployed integers")
    meta = obj.get("meta", {})
    model.score_calibration = ScoreCalibration.from_dict(meta.get("score_calibration"))
    return model.eval(), list(obj["classes"]), meta


def model_meta(path) -> dict:
    """A model file's metadata (its training settings, val metrics, ...) without building the network."""
    return load(path, MODEL_FORMAT).get("meta", {})


def _load_model_file(path) -> dict:
    return load(path, MODEL_FORMAT, also=(MODEL_FORMAT_V1,))


def plain(obj):
    """Plain Python (numbers, strings, lists, dicts) that torch's weights-only loader accepts."""
    import json

    return json.loads(json.dumps(obj, default=float))


def save_model(model, classes, path, meta=None) -> None:
    """The model file: config, classes, float parameters and, for a W4A8 model, its deployed integers
    (computed here once if the model does not hold them yet)."""
    state = {k: v for k, v in model.state_dict().items() if ".frozen." not in k}
    integers = model.deployed_integers() if model.is_quant else None
    save_atomic({"format": MODEL_FORMAT, "config": plain(model.cfg.to_dict()), "classes": list(classes),
                 "quantized": model.is_quant, "state": state, "integers": integers, "meta": plain(meta or {})}, path)


def upgrade_model(src, dst) -> dict:
    """A codenet-model/1 file -> codenet-model/2 at `dst`, its integers derived once (platform-independent)."""
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet

    obj = _load_model_file(src)
    if obj["format"] == MODEL_FORMAT:
        raise CodenetError(f"{src}: already a {MODEL_FORMAT} file")
    model = CoDeNet(ModelConfig.from_dict(obj["config"]))
    try:
        model.load_state_dict(obj["state"])
    except RuntimeError as e:
        raise CodenetError(f"{src}: weights do not match its config ({str(e).splitlines()[0][:120]})") from None
    meta = {**obj.get("meta", {}), "upgraded_from": MODEL_FORMAT_V1}
    save_model(model.eval(), obj["classes"], dst, meta)
    return meta
