"""CoDeNet-style detector: depthwise-separable backbone, three deformable decoder stages, CenterNet head.

Built from `ModelConfig` tables; no channel shuffle, concat or residual add, so every layer maps onto
a FINN dataflow layer. The output is one tensor (N, classes + 4, H/4, W/4): heatmap logits, box size
(w, h in output cells), centre offset (x, y).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codenet.host.errors import CodenetError
from codenet.model.config import ModelConfig
from codenet.model.layers import (ACT_MAX, ConvBNReLU, DeformableStage, Frozen, HeadConv, QuantMode, load_weights,
                                  quant_conv, restart_learned_scales)

INPUT_SCALE = 1.0 / 255  # the uint8 image code q stands for q / 255
SIZE_GAIN = 8.0  # box sizes (up to tens of output cells) are the head's raw output times this


class SeparableBlock(nn.Module):
    """depthwise 3x3 (stride s) -> pointwise 1x1, each with BN and an 8-bit ReLU."""

    def __init__(self, cin, cout, stride, weight_bits):
        super().__init__()
        self.dw = ConvBNReLU(cin, cin, 3, stride, groups=cin, weight_bits=weight_bits)
        self.pw = ConvBNReLU(cin, cout, 1, weight_bits=weight_bits)

    def forward(self, x):
        return self.pw(self.dw(x))


class Head(nn.Module):
    """Shared CenterNet head at output stride 4: dw 3x3 -> 1x1 -> 1x1 to classes + 4."""

    def __init__(self, cin, hidden, num_classes, weight_bits):
        super().__init__()
        self.dw = ConvBNReLU(cin, cin, 3, groups=cin, weight_bits=weight_bits)
        self.pw = ConvBNReLU(cin, hidden, 1, weight_bits=weight_bits)
        gain = [1.0] * num_classes + [SIZE_GAIN] * 2 + [1.0] * 2
        self.out = HeadConv(hidden, num_classes + 4, weight_bits, gain)
        with torch.no_grad():
            self.out.conv.bias.zero_()
            self.out.conv.bias[:num_classes] = -math.log((1 - 0.1) / 0.1)  # CenterNet's -2.19 prior
            self.out.conv.bias[num_classes:num_classes + 2] = 2.0  # sizes start near 16 cells

    def forward(self, x):
        return self.out(self.pw(self.dw(x)))


class CoDeNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg.validate()
        self.score_calibration = None  # a ScoreCalibration of its scores (host/calibration.py), from its file
        wb = cfg.weight_bits
        c, s = cfg.stem
        self.stem = ConvBNReLU(3, c, 3, s, weight_bits=cfg.stem_weight_bits)
        blocks = []
        for cout, stride in cfg.backbone:
            blocks.append(SeparableBlock(c, cout, stride, wb))
            c = cout
        self.backbone = nn.Sequential(*blocks)
        stages = []
        for cout in cfg.neck:
            stages.append(DeformableStage(c, cout, cfg.deform, cfg.bound, cfg.fixed_dilation, wb))
            c = cout
        self.neck = nn.ModuleList(stages)
        self.head = Head(c, cfg.head_channels, cfg.num_classes, wb)
        layers = {n: m for n, m in self.named_modules() if isinstance(m, QuantMode)}
        for name in cfg.layer_bits:
            if name not in layers:
                raise CodenetError(f"layer_bits: {name!r} is not a quantized layer (one of: {', '.join(layers)})")
        for name, layer in layers.items():
            if name in cfg.layer_bits or cfg.weight_scale != "stats":
                self._rebuild_conv(layer, cfg.layer_bits.get(name, layer.weight_bits), cfg.weight_scale)

    @staticmethod
    def _rebuild_conv(layer: QuantMode, bits: int, weight_scale: str):
        """Mixed precision and learned scales: the layer's conv rebuilt at `bits` with `weight_scale`
        scales, same geometry and initial values."""
        old = layer.conv
        conv = quant_conv(old.in_channels, old.out_channels, old.kernel_size[0], old.stride[0], old.groups,
                          bits, bias=old.bias is not None, dilation=old.dilation[0], weight_scale=weight_scale)
        with torch.no_grad():
            conv.weight.copy_(old.weight)
            if old.bias is not None:
                conv.bias.copy_(old.bias)
        layer.conv = conv

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """nn.Module's; strict loading forgives the learned weight scales a float state lacks (load_weights)."""
        if strict:
            return load_weights(self, state_dict)
        return super().load_state_dict(state_dict, strict=False, assign=assign)

    def forward(self, images):
        """images: (N, 3, H, W) float holding uint8 codes 0..255."""
        x = images if self.is_quant else images * INPUT_SCALE
        x = self.backbone(self.stem(x))
        for stage in self.neck:
            x = stage(x)
        return self.head(x)

    # ---- quantization --------------------------------------------------------------------------
    @property
    def is_quant(self) -> bool:
        return self.stem.is_quant

    def act_layers(self):
        """The 8-bit activation layers in data-flow order, each with the layer that feeds it."""
        order, prev = [], None
        order.append((self.stem, prev))
        prev = self.stem
        for blk in self.backbone:
            order += [(blk.dw, prev), (blk.pw, blk.dw)]
            prev = blk.pw
        for st in self.neck:
            if st.offset is not None:
                order.append((st.offset, prev))
            order += [(st.dw, prev), (st.pw, st.dw)]
            prev = st.pw
        order += [(self.head.dw, prev), (self.head.pw, self.head.dw), (self.head.out, self.head.pw)]
        return order

    @torch.no_grad()
    def quantize(self, images: torch.Tensor, percentile: float = 99.99, method: str = "percentile"):
        """Calibrate each activation's scale on float outputs, then switch every layer to quant mode.

        `method`: "percentile" (the peak is that percentile of the outputs) or "mse" (the peak that
        minimizes the 8-bit quantization error of the outputs, among percentiles and fractions of the max).
        """
        if self.cfg.deform == "bilinear":
            raise RuntimeError("set deform='bounded' (train-then-round) before quantizing a bilinear model")
        if method not in ("percentile", "mse"):
            raise ValueError(f"unknown calibration method {method!r}")
        restart_learned_scales(self)  # from the weights QAT starts with, not those of an earlier use
        was_training = self.training
        self.eval()
        samples, hooks = {}, []
        for layer, _ in self.act_layers():
            if isinstance(layer, ConvBNReLU):
                def hook(mod, _inp, out):
                    flat = out.flatten().float()
                    if flat.numel() > 1_000_000:
                        flat = flat[torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(0))[:1_000_000]]
                    samples.setdefault(mod, []).append(flat)
                hooks.append(layer.register_forward_hook(hook))
        self(images)
        for h in hooks:
            h.remove()
        for layer, src in self.act_layers():
            if isinstance(layer, ConvBNReLU):
                if method == "mse":
                    peak = mse_peak(torch.cat(samples[layer]))
                else:
                    peak = max(torch.quantile(flat, percentile / 100).item() for flat in samples[layer])
                layer.out_scale.fill_(max(peak, 1e-3) / ACT_MAX)
            layer.in_scale.fill_(INPUT_SCALE if src is None else src.out_scale.item())
            layer.quantized.fill_(True)
        self.train(was_training)
        return self

    def freeze(self):
        """Quant mode -> constant integers: the model Brevitas exports to QONNX.

        Layers keep integers already fixed (a loaded model file's); the others derive theirs once.
        The output becomes the head's integer accumulator; `head_affine()` gives its float scale/bias.
        """
        if not self.is_quant:
            raise RuntimeError("quantize (or load a W4A8 model) before freezing")
        for layer, _ in self.act_layers():
            layer.freeze()
        self.head.out.emit_accumulator = True
        return self.eval()

    def quant_layers(self) -> dict:
        """Module path -> quantized layer, in data-flow order: the keys of the stored integers."""
        names = {id(m): name for name, m in self.named_modules()}
        return {names[id(layer)]: layer for layer, _ in self.act_layers()}

    @torch.no_grad()
    def deployed_integers(self) -> dict:
        """Every integer the hardware uses (and the head's float32 affine), per layer path.

        Derived here once for a model fresh from QAT; a loaded model returns what its file stored.
        """
        if not self.is_quant:
            raise RuntimeError("a float model has no deployed integers")
        return {name: (layer.frozen if layer.frozen is not None else Frozen(*layer.integer_params())).integers()
                for name, layer in self.quant_layers().items()}

    def load_integers(self, integers: dict):
        """Fix every layer's integers to `integers` (from `deployed_integers`): forward and export use them."""
        layers = self.quant_layers()
        if set(integers) != set(layers):
            missing, extra = sorted(set(layers) - set(integers)), sorted(set(integers) - set(layers))
            raise ValueError(f"stored integers do not match the network (missing {missing[:3]}, extra {extra[:3]})")
        for name, layer in layers.items():
            layer.frozen = Frozen.from_integers(integers[name])
        return self

    @property
    def has_integers(self) -> bool:
        return self.stem.frozen is not None

    @torch.no_grad()
    def head_affine(self):
        """(scale, bias) per output channel: float output = integer accumulator * scale + bias."""
        scale, bias = self.head.out.affine()
        return scale.double(), bias.double()

    def set_deform(self, kind: str):
        """Switch the decoder's deformable semantics (e.g. bilinear-trained -> bounded, CoDeNet's way)."""
        import dataclasses

        self.cfg = dataclasses.replace(self.cfg, deform=kind).validate()
        for st in self.neck:
            if (st.offset is None) != (kind in ("plain", "fixed")):
                raise RuntimeError(f"cannot switch a {st.kind!r} stage to {kind!r}")
            st.kind = kind


def mse_peak(values: torch.Tensor) -> float:
    """The clipping peak whose 8-bit unsigned quantization of `values` has the least squared error."""
    top = values.max().item()
    if top <= 0:
        return 1e-3
    candidates = [torch.quantile(values, q).item() for q in (0.99, 0.999, 0.9999, 0.99999)]
    candidates += [top * f for f in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]

    def error(peak):
        step = peak / ACT_MAX
        return (torch.clamp(torch.round(values / step), 0, ACT_MAX) * step - values).square().mean().item()

    return min((c for c in candidates if c > 0), key=error)


def split_output(out: torch.Tensor, num_classes: int):
    """(N, C+4, H, W) -> heatmap logits, size, offset."""
    return out[:, :num_classes], out[:, num_classes:num_classes + 2], out[:, num_classes + 2:]


def count(model: CoDeNet) -> dict:
    """Parameters, MACs per frame (one dilation per deformable tap, as the hardware computes it), weight bytes."""
    if model.cfg.deform == "bilinear":  # same layers; count them as the hardware runs them
        import copy

        model = copy.deepcopy(model)
        model.set_deform("bounded")
    macs = 0
    weight_bits = 0
    params = sum(p.numel() for p in model.parameters())

    def hook(mod, _inp, out):
        nonlocal macs
        conv = mod.conv
        out = out[1] if isinstance(out, tuple) else out  # the dilation predictor returns (real, integer)
        k = conv.kernel_size[0] * conv.kernel_size[1]
        pixels = out.shape[2] * out.shape[3]
        macs += pixels * conv.out_channels * (conv.in_channels // conv.groups) * k

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, QuantMode)]
    for m in model.modules():
        if isinstance(m, QuantMode):
            weight_bits += m.conv.weight.numel() * int(m.conv.quant_weight().bit_width)
    was = model.training
    model.eval()
    with torch.no_grad():
        size = model.cfg.input_size
        model(torch.zeros(1, 3, size, size))
    model.train(was)
    for h in hooks:
        h.remove()
    return {"parameters": params, "macs": macs, "weight_bytes": weight_bits // 8}
