"""Post-training quantization: a float model file -> a W4A8 model file, without a training step.

The float model's BN statistics fold into the requantization as in QAT, the weights take Brevitas'
per-channel W4 (W8 for the stem), and each activation's scale comes from calibration images:
the 99.99th percentile of its float outputs, or the peak with the least 8-bit quantization error
("mse"). The result is a codenet-model/2 file like QAT's, so export and every backend take it
unchanged; comparing it with QAT from the same float start shows what QAT buys.
"""

from __future__ import annotations

from codenet.host.errors import CodenetError


def quantize_model(model_path, data: str, out, images: int = 256, method: str = "percentile",
                   split: str = "train", seed: int = 0) -> dict:
    """Calibrate the float model at `model_path` on `images` images of `data`/`split`; save to `out`."""
    from codenet.model.checkpoint import load_model, save_model
    from codenet.model.data import open_dataset
    from codenet.model.train import calibration_images

    model, classes, meta = load_model(model_path)
    if model.is_quant:
        raise CodenetError(f"{model_path}: already a W4A8 model; post-training quantization starts from a float one")
    if model.cfg.deform == "bilinear":
        model.set_deform("bounded")  # CoDeNet's deployment: bilinear-trained dilations rounded to integers
    dataset = open_dataset(data, split, images, model.cfg.input_size, seed, classes=None)
    if len(dataset) == 0:
        raise CodenetError(f"{data}: no {split} images to calibrate on")
    model.quantize(calibration_images(dataset, model.cfg, images), method=method)
    info = {"ptq": {"method": method, "calibration": f"{data}:{split}", "images": min(images, len(dataset))}}
    save_model(model, classes, out, {**meta, **info})
    return info


def compare(float_path, qat_path, data: str, splits, out_dir, images: int = 256,
            eval_images: int = 300) -> list[dict]:
    """Float vs PTQ (both calibrations) vs QAT from the same float start: AP50 per split -> out_dir/ptq.{json,md}."""
    from pathlib import Path

    from codenet.host.io import write_bytes_atomic, write_json_atomic
    from codenet.model.checkpoint import load_model
    from codenet.model.data import open_dataset
    from codenet.model.predict import evaluate_model

    out = Path(out_dir)
    models = {"float": float_path}
    for method in ("percentile", "mse"):
        models[f"PTQ W4A8 ({method})"] = out / f"ptq-{method}.pt"
        quantize_model(float_path, data, models[f"PTQ W4A8 ({method})"], images, method)
    models["QAT W4A8"] = qat_path
    rows = []
    for name, path in models.items():
        model, classes, _ = load_model(path)
        row = {"model": name, "file": str(path)}
        for split in splits:
            dataset = open_dataset(data, split, eval_images, model.cfg.input_size, 0, classes=None)
            row[split] = round(evaluate_model(model, dataset, progress=False)["AP50"], 1)
        rows.append(row)
    write_json_atomic(rows, out / "ptq.json")
    lines = [f"| model | {' | '.join(f'AP50 {s}' for s in splits)} |", "|---|" + "---|" * len(splits)]
    lines += [f"| {r['model']} | {' | '.join(str(r[s]) for s in splits)} |" for r in rows]
    write_bytes_atomic(("\n".join(lines) + "\n").encode(), out / "ptq.md")
    return rows


def main(argv=None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m codenet.model.ptq", description=compare.__doc__)
    p.add_argument("--float", dest="float_path", required=True, help="the float model file QAT started from")
    p.add_argument("--qat", required=True, help="the W4A8 model file QAT made from it")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--splits", default="val,test", help="comma-separated splits to evaluate (default: val,test)")
    p.add_argument("--images", type=int, default=256, help="calibration images from the train split")
    p.add_argument("--out", default="build/ptq")
    args = p.parse_args(argv)
    try:
        rows = compare(args.float_path, args.qat, args.data, args.splits.split(","), args.out, args.images)
    except CodenetError as e:
        print(f"ptq: error: {e}", file=sys.stderr)
        return 2
    print(f"{len(rows)} models -> {args.out}/ptq.md, {args.out}/ptq.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
