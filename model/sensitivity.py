"""Which layers can take fewer weight bits, and which gain most from more: per-layer sensitivity by
post-training quantization.

For each quantized layer and each other width, the float model is quantized W4A8 with only that layer
at that width (`layer_bits`), calibrated as `codenet quantize` does, and evaluated on the val split; the
AP50 drop against uniform W4A8 and the weight bits saved (negative: added) rank the candidates for a
mixed-precision config (fine-tune it with QAT afterwards). PTQ measures sensitivity without a training
step per candidate, as HAWQ-style searches do with a cheaper proxy.

    python -m codenet.model.sensitivity --model model/weights/trees-float.pt --data trees --out build/sens
"""

from __future__ import annotations

import dataclasses

from codenet.host.errors import CodenetError


def _ptq(cfg, quantized_state, layer_bits: dict):
    """The calibrated model with `layer_bits`: calibration reads float outputs, which no weight width
    changes, so every candidate shares one calibrated state."""
    from codenet.model.network import CoDeNet

    model = CoDeNet(dataclasses.replace(cfg, layer_bits=layer_bits).validate())
    model.load_state_dict(quantized_state)
    return model.eval()


def sensitivity(model_path, data: str, widths=(2, 3), split: str = "val", images: int = 128,
                eval_images: int = 300) -> list[dict]:
    """Rows per (layer, width): AP50 on `split`, its drop against uniform bits (negative: a gain), weight
    bits saved (negative: added)."""
    import torch

    from codenet.model.checkpoint import load_model
    from codenet.model.data import open_dataset
    from codenet.model.predict import evaluate_model
    from codenet.model.train import calibration_images

    model, _, _ = load_model(model_path)
    if model.is_quant:
        raise CodenetError(f"{model_path}: a W4A8 model; sensitivity starts from the float model")
    cfg = model.cfg
    calib = calibration_images(open_dataset(data, "train", images, cfg.input_size, 0), cfg, images)
    quantized_state = {k: v.clone() for k, v in model.quantize(calib).state_dict().items()}
    evalset = open_dataset(data, split, eval_images, cfg.input_size, 0)

    def ap50(layer_bits):
        with torch.no_grad():
            return evaluate_model(_ptq(cfg, quantized_state, layer_bits), evalset, progress=False)["AP50"]

    base = ap50(dict(cfg.layer_bits))
    rows = [{"layer": "(uniform)", "bits": None, "ap50": round(base, 2), "drop": 0.0, "bits_saved": 0}]
    for name, layer in model.quant_layers().items():
        now = int(layer.conv.quant_weight().bit_width)
        for bits in (w for w in widths if w != now):
            score = ap50({**cfg.layer_bits, name: bits})
            rows.append({"layer": name, "bits": bits, "ap50": round(score, 2), "drop": round(base - score, 2),
                         "bits_saved": layer.conv.weight.numel() * (now - bits)})
    return rows


def main(argv=None) -> int:
    import argparse
    import sys
    from pathlib import Path

    from codenet.host.io import write_bytes_atomic, write_json_atomic

    p = argparse.ArgumentParser(prog="python -m codenet.model.sensitivity", description=sensitivity.__doc__)
    p.add_argument("--model", required=True, help="a float model file")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--widths", default="2,3",
                   help="weight widths to try: narrower ones save bits, wider ones show where bits pay (default: 2,3)")
    p.add_argument("--split", default="val", help="the tuning split (default: val)")
    p.add_argument("--out", default="build/sensitivity")
    args = p.parse_args(argv)
    try:
        rows = sensitivity(args.model, args.data, tuple(int(w) for w in args.widths.split(",")), args.split)
    except (CodenetError, ValueError) as e:
        print(f"sensitivity: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    write_json_atomic(rows, out / "sensitivity.json")
    # narrower: least drop per bit saved first; wider: most gain per bit added first
    ranked = [rows[0]] + sorted(rows[1:], key=lambda r: (r["bits_saved"] < 0,
                                                          r["drop"] / max(abs(r["bits_saved"]), 1)))
    lines = [f"| layer | bits | AP50 {args.split} | drop | weight bits saved |", "|---|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['bits'] or ''} | {r['ap50']} | {r['drop']} | {r['bits_saved']} |" for r in ranked]
    write_bytes_atomic(("\n".join(lines) + "\n").encode(), out / "sensitivity.md")
    print(f"{len(rows) - 1} candidates -> {out}/sensitivity.md (ranked per bit saved or added)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
