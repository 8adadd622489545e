"""`codenet`: one command, subcommands imported lazily so `codenet --help` and `detect` need numpy only."""

from __future__ import annotations

import argparse
import importlib
import sys

from codenet.host.errors import CodenetError

# subcommand -> (module with run_<name>, one-line help); `add_<name>_args(parser)` lives in an
# import-light module (ARGS) so that building the parser imports neither torch nor the implementation
COMMANDS = {
    "train": ("codenet.model.cli", "Train a model: float pre-training, then W4A8 QAT (needs the [train] extra)"),
    "eval": ("codenet.model.cli", "COCO mAP / VOC AP50 of a trained model, with a precision-recall plot"),
    "export": ("codenet.model.cli", "Export a W4A8 model to QONNX with its model card (needs [train])"),
    "info": ("codenet.model.cli", "Parameters, MACs and weight bytes of a model config"),
    "quantize": ("codenet.model.cli", "Post-training quantization: a float model file -> W4A8, calibrated on images"),
    "calibrate-scores": ("codenet.model.cli", "Fit a W4A8 model's score calibration on its val split: scores "
                         "become the share of true detections"),
    "upgrade-model": ("codenet.model.cli", "Convert a codenet-model/1 file to /2: its deployed integers stored once"),
    "detect": ("codenet.host.detect", "Detect objects in images and folders with a bundle; annotated images + JSON"),
}


ARGS = {"codenet.model.cli": "codenet.model.cli_args", "codenet.host.detect": "codenet.host.detect"}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("codenet-fpga")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _missing(command: str, module: str, e: ModuleNotFoundError) -> int:
    """A subcommand whose optional dependency is absent (torch in the core install, say): one line."""
    extra = "[train]" if module.startswith("codenet.model") else "[dev]"
    print(f"codenet: error: '{command}' needs {e.name}; install the extra: pip install 'codenet-fpga{extra}'",
          file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codenet", description="CoDeNet-style W4A8 detector for the PYNQ-Z2.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        getattr(importlib.import_module(ARGS[module]), f"add_{name.replace('-', '_')}_args")(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        module = importlib.import_module(args._module)
        return getattr(module, f"run_{args.command.replace('-', '_')}")(args) or 0
    except ModuleNotFoundError as e:
        if (e.name or "codenet").split(".")[0] == "codenet":
            raise  # our own module missing is a bug, not a missing extra
        return _missing(args.command, args._module, e)
    except CodenetError as e:
        print(f"codenet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codenet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
