"""Model-side subcommands: train, eval, export, info, quantize, calibrate-scores, upgrade-model (PyTorch)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from codenet.host.errors import CodenetError

DEFAULT_MODEL = Path(__file__).parent / "weights" / "codenet-s.pt"


def run_train(args):
    from codenet.model.cli_args import TRAIN_OVERRIDES
    from codenet.model.config import load_config
    from codenet.model.train import Trainer, TrainSettings

    cfg, train = load_config(args.config)
    overrides = {k: getattr(args, k) for k, _ in TRAIN_OVERRIDES if getattr(args, k) is not None}
    settings = TrainSettings.from_dict({**train, **overrides})
    if args.deform:
        cfg = dataclasses.replace(cfg, deform=args.deform).validate()
    trainer = Trainer(cfg, settings, args.out, progress=not args.no_progress)
    path = trainer.run(resume=args.resume)
    if not trainer.world.main:
        return
    print(json.dumps({"model": str(path), **json.loads((Path(args.out) / "metrics.json").read_text())
                      } if (Path(args.out) / "metrics.json").exists() else {"model": str(path)}))


def run_eval(args):
    from codenet.model.checkpoint import load_model
    from codenet.model.data import open_dataset
    from codenet.model.predict import evaluate_model

    model, classes, _ = load_model(args.model)
    if args.round_dilation:
        if model.cfg.deform != "bilinear":
            raise CodenetError("--round-dilation applies to a bilinear model only")
        model.set_deform("bounded")
    dataset = open_dataset(args.data, args.split, args.images, model.cfg.input_size, args.seed, classes=None)
    if len(dataset.classes) != len(classes):
        raise CodenetError(f"the data set has {len(dataset.classes)} classes, the model {len(classes)}")
    metrics = evaluate_model(model, dataset, args.out, progress=not args.no_progress)
    keys = ("mAP", "AP50", "AP75", "VOC_AP50")
    print(json.dumps({k: round(metrics[k], 2) for k in keys}))


def run_export(args):
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)  # brevitas/qonnx import chatter
    from codenet.model.export import export

    from codenet.overlay.flow.steps import build_bundle
    from codenet.overlay.estimate.folding import load_folding

    folding = load_folding(args.folding) if args.folding else None
    card = export(args.model or DEFAULT_MODEL, args.out)
    manifest = build_bundle(Path(args.out) / "model.onnx", card, Path(args.out) / "bundle", folding)
    print(f"{args.out}/model.onnx ({card['name']}, {len(card['classes'])} classes) -> bundle "
          f"{args.out}/bundle ({len(manifest['layers'])} layers)")


def run_info(args):
    from codenet.model.config import load_config
    from codenet.model.network import CoDeNet, count

    cfg, _ = load_config(args.config)
    print(json.dumps({"config": cfg.name, "input": cfg.input_size, "deform": cfg.deform, "bound": cfg.bound,
                      **count(CoDeNet(cfg))}))


def run_upgrade_model(args):
    from codenet.model.checkpoint import upgrade_model

    upgrade_model(args.model, args.out)
    print(f"{args.out}: codenet-model/2, deployed integers stored")


def run_calibrate_scores(args):
    from codenet.model.calibrate import calibrate_file

    entry = calibrate_file(args.model, args.out, args.data, args.split)
    before, after = entry["calibration_error"]
    print(json.dumps({"model": str(args.out), "a": round(entry["a"], 4), "b": round(entry["b"], 4),
                      "D-ECE": [round(before, 1), round(after, 1)]}))


def run_quantize(args):
    from codenet.model.ptq import quantize_model

    info = quantize_model(args.model, args.data, args.out, args.images, args.method, args.split)
    print(json.dumps({"model": str(args.out), **info["ptq"]}))
