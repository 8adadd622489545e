"""Quantized layers: conv -> BN -> ReLU with 8-bit requantization, and the bounded deformable conv.

A layer runs in one of two modes. Float mode (pre-training): real-valued activations, BN with batch
statistics. Quant mode (QAT, export): activations are 8-bit integer codes held in float tensors,
weights are Brevitas W4 (per-channel) integers, BN is frozen and folded into the requantization of
`quant.py`, so every value the forward pass produces is the integer the hardware produces.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from brevitas.core.scaling.standalone import ParameterFromStatsFromParameterScaling
from brevitas.inject.enum import ScalingImplType
from brevitas.nn import QuantConv2d
from brevitas.quant import Int8WeightPerChannelFloat
from torch import nn

from codenet.model.quant import dyadic, floats, requantize

ACT_MAX = 255  # unsigned 8-bit activations after ReLU, zero point 0: padding reads 0


class LearnedScaleWeight(Int8WeightPerChannelFloat):
    """Per-channel weights whose scale is a trained parameter, initialised from max |w| on first use."""

    scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS


WEIGHT_QUANT = {"stats": Int8WeightPerChannelFloat, "learned": LearnedScaleWeight}
LEARNED_SCALE = "weight_quant.tensor_quant.scaling_impl.value"  #: a learned scale's key in its conv's state


def learned_scale(conv: QuantConv2d) -> nn.Parameter:
    """The per-channel scale parameter of a conv built with weight_scale="learned"."""
    return conv.weight_quant.tensor_quant.scaling_impl.value


def quant_conv(cin, cout, k, stride=1, groups=1, weight_bits=4, bias=False, dilation=1,
               weight_scale="stats") -> QuantConv2d:
    """The one place weight quantization is declared: symmetric per-channel, `weight_bits` wide, the
    scale from the weights' max (`stats`) or learned (`learned`)."""
    return QuantConv2d(cin, cout, k, stride=stride, padding=dilation * (k // 2), dilation=dilation,
                       groups=groups, bias=bias, weight_bit_width=weight_bits,
                       weight_quant=WEIGHT_QUANT[weight_scale])


def load_weights(module: nn.Module, state: dict):
    """module.load_state_dict(state), strict except for learned weight scales that `state` lacks (a
    float model's, which never quantized its weights): those start from the weights' max at first use."""
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(LEARNED_SCALE)]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"state does not match the network: missing {missing[:3]}, "
                           f"unexpected {result.unexpected_keys[:3]}")
    return result


def restart_learned_scales(module: nn.Module) -> None:
    """Every learned weight scale starts again from its weights' max at its next use (QAT's start)."""
    for m in module.modules():
        if isinstance(m, ParameterFromStatsFromParameterScaling):
            with torch.no_grad():
                m.value.fill_(1.0)  # the first use multiplies the statistics into it
            m.init_done = False


def integer_weight(conv: QuantConv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer weights with a straight-through gradient, per-output-channel scale)."""
    qw = conv.quant_weight()
    scale = qw.scale.reshape(-1)
    w = qw.value / qw.scale
    return w + (torch.round(w) - w).detach(), scale


class Frozen(nn.Module):
    """A quant-mode layer's deployed integers as constants, computed with standard ONNX ops for export.

    Weights pass through a Brevitas/QONNX Quant node with scale 1 (integers, `bits` wide, narrow
    range); the requantization runs in float64, exact since |acc * M + B| < 2^53. The head keeps
    its float32 output scale and bias (`affine`), applied on the host. `integers()` is what the
    model file stores; `from_integers` rebuilds the layer from it, so nothing is derived twice.
    """

    def __init__(self, weight, bits, mult, bias, shift, lo=None, hi=None, affine=None):
        super().__init__()
        self.bits, self.lo, self.hi = int(bits), lo, hi
        self.register_buffer("weight_int", weight.detach().round().float())
        self.register_buffer("mult_int", _int64(mult))
        self.register_buffer("bias_int", _int64(bias))
        self.register_buffer("shift_int", _int64(shift))
        view = (1, -1, 1, 1)
        self.register_buffer("mult", self.mult_int.double().view(view) if mult is not None else None)
        self.register_buffer("bias", self.bias_int.double().view(view) if bias is not None else None)
        inv = [math.ldexp(1.0, -s) for s in self.shift_int.tolist()] if shift is not None else None
        self.register_buffer("inv_shift", torch.tensor(inv, dtype=torch.float64).view(view) if inv else None)
        scale, offset = affine if affine is not None else (None, None)
        self.register_buffer("acc_scale", None if scale is None else scale.detach().float().reshape(-1))
        self.register_buffer("acc_bias", None if offset is None else offset.detach().float().reshape(-1))

    def integers(self) -> dict:
        """The deployed integers (and the head's float32 affine) as plain tensors and ints."""
        entry = {"weight": self.weight_int.to(torch.int8), "bits": self.bits}  # <= 8-bit weights
        if self.mult is not None:
            entry |= {"mult": self.mult_int, "bias": self.bias_int, "shift": self.shift_int,
                      "lo": int(self.lo), "hi": int(self.hi)}
        if self.acc_scale is not None:
            entry |= {"acc_scale": self.acc_scale, "acc_bias": self.acc_bias}
        return entry

    @classmethod
    def from_integers(cls, entry: dict) -> "Frozen":
        affine = (entry["acc_scale"], entry["acc_bias"]) if "acc_scale" in entry else None
        return cls(entry["weight"], entry["bits"], entry.get("mult"), entry.get("bias"), entry.get("shift"),
                   entry.get("lo"), entry.get("hi"), affine)

    def weight(self):
        from brevitas.export.onnx.qonnx.function import BrevitasQuantTorchScriptFn

        one, zero = torch.tensor(1.0), torch.tensor(0.0)
        return BrevitasQuantTorchScriptFn.apply(self.weight_int, one, zero, torch.tensor(float(self.bits)),
                                                True, True, "ROUND")

    def requant(self, acc):
        y = torch.floor((acc.double() * self.mult + self.bias) * self.inv_shift)
        return torch.clamp(y, self.lo, self.hi).float()


def _int64(values):
    return None if values is None else torch.as_tensor(values).detach().reshape(-1).to(torch.int64)


class QuantMode(nn.Module):
    """Float/quant switch plus the activation scales fixed at calibration."""

    def __init__(self):
        super().__init__()
        self.register_buffer("quantized", torch.tensor(False))
        self.register_buffer("in_scale", torch.tensor(1.0))
        self.register_buffer("out_scale", torch.tensor(1.0))
        self.frozen = None

    @property
    def is_quant(self) -> bool:
        return bool(self.quantized)

    @property
    def weight_bits(self) -> int:
        return int(self.conv.quant_weight().bit_width)

    @torch.no_grad()
    def freeze(self):
        """Quant mode -> constant integers (export and the reference for every later stage).

        A layer whose integers are already fixed (loaded from a model file) keeps them.
        """
        if not self.is_quant:
            raise RuntimeError("freeze() needs a quantized layer")
        if self.frozen is None:
            self.frozen = Frozen(*self.integer_params())


class ConvBNReLU(QuantMode):
    """k x k conv (optionally depthwise, optionally with a per-pixel dilation) -> BN -> ReLU, A8 out."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, weight_bits=4, dilation=1):
        super().__init__()
        self.conv = quant_conv(cin, cout, k, stride, groups, weight_bits, dilation=dilation)
        self.bn = nn.BatchNorm2d(cout)

    def train(self, mode=True):
        super().train(mode)
        if self.is_quant:
            self.bn.eval()  # QAT folds frozen BN statistics into the requantization
        return self

    def accumulate(self, x, weight, dilation=None):
        """conv(x, weight); with a dilation selector (D, N, 1, H, W), the per-pixel dilated conv."""
        c = self.conv
        if dilation is None:
            return F.conv2d(x, weight, stride=c.stride, padding=c.padding, dilation=c.dilation, groups=c.groups)
        k = c.kernel_size[0] // 2
        out = 0
        for i in range(dilation.shape[0]):
            d = i + 1
            y = F.conv2d(x, weight, stride=c.stride, padding=k * d, dilation=d, groups=c.groups)
            out = out + dilation[i] * y
        return out

    def requant_affine(self, w_scale):
        """Per-channel (m, b) of acc -> output code: scales and the frozen BN folded together."""
        bn = self.bn
        gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * gain
        return self.in_scale * w_scale * gain / self.out_scale, shift / self.out_scale

    def requant_integers(self, w_scale):
        """(M, B, S) of `requant_affine`, derived in Python float64 from the same parameters."""
        bn = self.bn
        in_s, out_s, eps = float(self.in_scale), float(self.out_scale), float(bn.eps)
        m, b = [], []
        for ws, g, beta, mu, var in zip(floats(w_scale), floats(bn.weight), floats(bn.bias),
                                        floats(bn.running_mean), floats(bn.running_var)):
            gain = g / math.sqrt(var + eps)
            m.append(in_s * ws * gain / out_s)
            b.append((beta - mu * gain) / out_s)
        return dyadic(m, b)

    def integer_params(self):
        w, w_scale = integer_weight(self.conv)
        return (w, self.weight_bits, *self.requant_integers(w_scale), 0, ACT_MAX)

    def forward(self, x, dilation=None):
        if self.frozen is not None:
            return self.frozen_forward(x, dilation)
        if not self.is_quant:
            return F.relu(self.bn(self.accumulate(x, self.conv.weight, dilation)))
        w, w_scale = integer_weight(self.conv)
        acc = self.accumulate(x, w, dilation)
        return requantize(acc, *self.requant_affine(w_scale), 0, ACT_MAX, self.requant_integers(w_scale))

    def frozen_forward(self, x, dilation=None):
        """`dilation`: the integer dilation map (N,1,H,W) for a deformable layer."""
        f, c = self.frozen, self.conv
        if dilation is None:
            acc = F.conv2d(x, f.weight(), stride=c.stride, padding=c.padding, dilation=c.dilation, groups=c.groups)
        else:
            acc = 0
            for d in range(1, self.bound + 1):
                # one Quant node per use: FINN folds weight Quant nodes only where they do not fork
                tap = F.conv2d(x, f.weight(), padding=d, dilation=d, groups=c.groups)
                acc = acc + (dilation == d).float() * tap
        return f.requant(acc)


class HeadConv(QuantMode):
    """The last 1x1 conv: its integer accumulator leaves the accelerator; scale and bias stay on the host.

    `gain` is a fixed per-channel output multiplier: box sizes span tens of output cells, and a gain
    lets their weights train at the same learning rate as the heatmap's. It folds into the host's
    per-channel scale and bias, so it costs nothing at inference.
    """

    def __init__(self, cin, cout, weight_bits=4, gain=None):
        super().__init__()
        self.conv = quant_conv(cin, cout, 1, weight_bits=weight_bits, bias=True)
        self.register_buffer("gain", torch.ones(cout) if gain is None else torch.as_tensor(gain, dtype=torch.float32))
        self.emit_accumulator = False  # the export form: the accumulator is the accelerator's output

    def forward(self, x):
        if self.frozen is not None:
            acc = F.conv2d(x, self.frozen.weight())
            return acc if self.emit_accumulator else self.dequantize(acc)
        if not self.is_quant:
            return F.conv2d(x, self.conv.weight, self.conv.bias) * self.gain.view(1, -1, 1, 1)
        w, w_scale = integer_weight(self.conv)
        return self.dequantize(F.conv2d(x, w), w_scale)

    def affine(self, w_scale=None):
        """Per-channel float32 (scale, bias): head output = acc * scale + bias (the stored pair once frozen)."""
        if self.frozen is not None:
            return self.frozen.acc_scale, self.frozen.acc_bias
        if w_scale is None:
            w_scale = integer_weight(self.conv)[1]
        return self.in_scale * w_scale * self.gain, self.conv.bias * self.gain

    def dequantize(self, acc, w_scale=None):
        """Integer accumulator -> float head output: acc * scale + bias per channel (the host's step)."""
        scale, bias = self.affine(w_scale)
        return acc * scale.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)

    def integer_params(self):
        w, w_scale = integer_weight(self.conv)
        return w, self.weight_bits, None, None, None, None, None, self.affine(w_scale)


class DilationPredictor(QuantMode):
    """1x1 conv (C -> 1) giving each output pixel an integer dilation d in {1..bound}."""

    def __init__(self, cin, bound, weight_bits=4):
        super().__init__()
        self.bound = bound
        self.conv = quant_conv(cin, 1, 1, weight_bits=weight_bits, bias=True)
        nn.init.normal_(self.conv.weight, std=1e-3)
        nn.init.constant_(self.conv.bias, 1.2)  # start as a plain 3x3 (d = 1), inside the STE's range

    def requant_integers(self, w_scale):
        """(M, B, S) of acc * in_scale * w_scale + bias, derived in Python float64."""
        in_s = float(self.in_scale)
        return dyadic([in_s * ws for ws in floats(w_scale)], floats(self.conv.bias))

    def integer_params(self):
        w, w_scale = integer_weight(self.conv)
        return (w, self.weight_bits, *self.requant_integers(w_scale), 1, self.bound)

    def forward(self, x):
        """(real-valued dilation for the gradient, integer dilation for the forward value)."""
        if self.frozen is not None:
            d = self.frozen.requant(F.conv2d(x, self.frozen.weight()))
            return d, d
        if not self.is_quant:
            real = F.conv2d(x, self.conv.weight, self.conv.bias)
            return real, torch.clamp(torch.floor(real.detach() + 0.5), 1, self.bound)
        w, w_scale = integer_weight(self.conv)
        acc = F.conv2d(x, w)
        m = self.in_scale * w_scale
        real = acc * m.view(1, -1, 1, 1) + self.conv.bias.view(1, -1, 1, 1)
        ints = self.requant_integers(w_scale)
        return real, requantize(acc, m, self.conv.bias, 1, self.bound, ints).detach()


def dilation_selector(real, integer, bound):
    """(D, N, 1, H, W) weights: one-hot at the integer dilation forward, linear interpolation backward.

    The forward value picks exactly the conv with the hardware's dilation; the gradient is that of
    interpolating between neighbouring integer dilations at the real-valued prediction.
    """
    d = torch.arange(1, bound + 1, dtype=real.dtype, device=real.device).view(-1, 1, 1, 1, 1)
    hat = F.relu(1 - (real.clamp(1, bound).unsqueeze(0) - d).abs())
    onehot = (integer.unsqueeze(0) == d).to(real.dtype)
    return onehot + hat - hat.detach()


def bilinear_dilated_dwconv(x, weight, scale):
    """Float-only depthwise 3x3 with a real per-pixel dilation `scale` (N,1,H,W): CoDeNet's training form."""
    n, c, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype, device=x.device),
                            torch.arange(w, dtype=x.dtype, device=x.device), indexing="ij")
    out = 0
    for ky in (-1, 0, 1):
        for kx in (-1, 0, 1):
            py = ys + scale[:, 0] * ky
            px = xs + scale[:, 0] * kx
            grid = torch.stack((2 * px / max(w - 1, 1) - 1, 2 * py / max(h - 1, 1) - 1), dim=-1)
            tap = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            out = out + tap * weight[:, 0, ky + 1, kx + 1].view(1, c, 1, 1)
    return out


class DeformableStage(nn.Module):
    """CoDeNet's decoder stage: dilation 1x1 -> bounded deformable depthwise 3x3 -> 1x1 -> nearest x2.

    `kind`: "bounded" (per-pixel integer dilation, the hardware), "plain" (d = 1), "fixed" (d = a
    constant), "bilinear" (real-valued dilation with bilinear taps, float only; switching it to
    "bounded" afterwards is CoDeNet's train-then-round deployment).
    """

    def __init__(self, cin, cout, kind="bounded", bound=4, fixed_dilation=2, weight_bits=4):
        super().__init__()
        self.kind, self.bound, self.fixed_dilation = kind, bound, fixed_dilation
        self.offset = DilationPredictor(cin, bound, weight_bits) if kind in ("bounded", "bilinear") else None
        fixed = fixed_dilation if kind == "fixed" else 1
        self.dw = ConvBNReLU(cin, cin, 3, groups=cin, weight_bits=weight_bits, dilation=fixed)
        self.dw.bound = bound
        self.pw = ConvBNReLU(cin, cout, 1, weight_bits=weight_bits)

    def dilation(self, x):
        """The integer dilation map (N,1,H,W) the hardware would use."""
        if self.offset is None:
            d = 1 if self.kind == "plain" else self.fixed_dilation
            return torch.full_like(x[:, :1], d)
        return self.offset(x)[1]

    def forward(self, x):
        if self.kind in ("plain", "fixed"):
            y = self.dw(x)  # the conv itself carries the fixed dilation
        elif self.kind == "bilinear":
            if self.dw.is_quant:
                raise RuntimeError("the bilinear variant is float only: switch it to 'bounded' to quantize")
            real, _ = self.offset(x)
            scale = real.clamp(1, self.bound)
            y = F.relu(self.dw.bn(bilinear_dilated_dwconv(x, self.dw.conv.weight, scale)))
        elif self.dw.frozen is not None:
            y = self.dw(x, self.offset(x)[1])
        else:
            real, integer = self.offset(x)
            y = self.dw(x, dilation_selector(real, integer, self.bound))
        return F.interpolate(self.pw(y), scale_factor=2, mode="nearest")
