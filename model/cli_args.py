"""Arguments of the model-side subcommands; argparse only, so `codenet --help` imports no torch."""

import argparse

from codenet.model.data import DATA_HELP  # import-light: no torch


#: train settings a command-line option overrides: (setting, type); the option is the name with dashes
TRAIN_OVERRIDES = (("data", str), ("val_data", str), ("train_images", int), ("val_images", int),
                   ("batch_size", int), ("float_epochs", int), ("qat_epochs", int), ("lr", float),
                   ("qat_lr", float), ("seed", int), ("distill", float), ("dense_boxes", bool), ("qat_ema", float),
                   ("init_from", str), ("workers", int), ("threads", int), ("checkpoint_every", int))


def add_train_args(p):
    p.add_argument("--config", default="codenet-s", help="preset name or YAML path (default: codenet-s)")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.csv/json, model.pt, metrics")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    helps = {"data": f"training data: {DATA_HELP}", "val_data": "validation data (default: --data, validation split)"}
    for name, kind in TRAIN_OVERRIDES:
        how = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
        p.add_argument(f"--{name.replace('_', '-')}", **how,
                       help=helps.get(name, "overrides the config's train section"))
    p.add_argument("--deform", choices=("bounded", "plain", "fixed", "bilinear"), help="decoder variant")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_eval_args(p):
    p.add_argument("--model", required=True, help="a trained model file (model.pt)")
    p.add_argument("--data", default="synthetic", help=f"{DATA_HELP} (default: synthetic)")
    p.add_argument("--split", default="test", help="split (default: test)")
    p.add_argument("--images", type=int, default=300, help="synthetic images (default: 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for metrics.json, pr.png and reliability.png")
    p.add_argument("--round-dilation", action="store_true",
                   help="evaluate a bilinear model with its dilations rounded to the hardware's integers")
    p.add_argument("--no-progress", action="store_true")


def add_info_args(p):
    p.add_argument("--config", default="codenet-s", help="preset name or YAML path (default: codenet-s)")


def add_export_args(p):
    p.add_argument("--model", help="a trained W4A8 model file (default: the shipped codenet-s)")
    p.add_argument("--out", default="build/export", help="folder for model.onnx, model_card.json, "
                   "the FINN graphs and bundle/ (default: build/export)")
    p.add_argument("--folding", help="folding JSON: per-layer PE/SIMD (FINN's format)")


def add_upgrade_model_args(p):
    p.add_argument("model", help="a codenet-model/1 file")
    p.add_argument("out", help="where the codenet-model/2 file goes (may be the same path)")


def add_calibrate_scores_args(p):
    p.add_argument("--model", required=True, help="a W4A8 model file")
    p.add_argument("--out", required=True, help="where the calibrated model file goes (may be --model)")
    p.add_argument("--data", help=f"data to fit on: {DATA_HELP} (default: the data the model was tuned on)")
    p.add_argument("--split", help="split to fit on (default: the model's val split)")


def add_quantize_args(p):
    p.add_argument("--model", required=True, help="a trained float model file")
    p.add_argument("--out", required=True, help="where the W4A8 model file goes")
    p.add_argument("--data", default="synthetic", help=f"calibration data: {DATA_HELP} (default: synthetic)")
    p.add_argument("--split", default="train", help="split to calibrate on (default: train)")
    p.add_argument("--images", type=int, default=256, help="calibration images (default: 256)")
    p.add_argument("--method", choices=("percentile", "mse"), default="percentile",
                   help="activation peaks: 99.99th percentile or least 8-bit error (default: percentile)")
