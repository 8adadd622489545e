"""`codenet`: one command, subcommands imported lazily so `codenet --help` and `detect` need numpy only."""

from __future__ import annotations

import argparse
import importlib
import sys

from codenet.host.errors import CodenetError

# subcommand -> (module, function, one-line help); the module also provides `add_<name>_args(parser)`
COMMANDS = {
    "train": ("codenet.model.cli", "Train a model: float pre-training, then W4A8 QAT (needs the [train] extra)"),
    "eval": ("codenet.model.cli", "COCO mAP / VOC AP50 of a trained model, with a precision-recall plot"),
    "info": ("codenet.model.cli", "Parameters, MACs and weight bytes of a model config"),
    "detect": ("codenet.model.cli", "Detect objects in images with a trained model; annotated images + JSON"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codenet", description="CoDeNet-style W4A8 detector for the PYNQ-Z2.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _args_module(module).__dict__[f"add_{name}_args"](p)
    return parser


def _args_module(module: str):
    # the argument definitions live beside the implementation in an import-light `<module>_args`
    return importlib.import_module(f"{module}_args")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        module = importlib.import_module(args._module)
    except ModuleNotFoundError as e:
        print(f"codenet: error: '{args.command}' needs {e.name}; install the extra: pip install "
              f"'codenet-fpga[train]'", file=sys.stderr)
        return 2
    try:
        return getattr(module, f"run_{args.command}")(args) or 0
    except CodenetError as e:
        print(f"codenet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codenet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
