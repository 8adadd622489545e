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
