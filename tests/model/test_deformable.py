"""The bounded deformable convolution: integer-exact against a direct loop, d in {1..D}, gradients."""

import numpy as np
import pytest
import torch

from codenet.model.layers import DeformableStage, dilation_selector, integer_weight
from codenet.model.quant import dyadic

BOUND = 4


def reference_deformable(q, w, d, mult, bias, shift):
    """Direct loops: depthwise 3x3 taps at p + d(p)*k, 0 outside the image, then requantization."""
    n, c, h, wd = q.shape
    out = np.zeros((n, c, h, wd), np.int64)
    for b in range(n):
        for y in range(h):
            for x in range(wd):
                dil = int(d[b, 0, y, x])
                for ch in range(c):
                    acc = 0
                    for ky in (-1, 0, 1):
                        for kx in (-1, 0, 1):
                            yy, xx = y + dil * ky, x + dil * kx
                            if 0 <= yy < h and 0 <= xx < wd:
                                acc += int(w[ch, 0, ky + 1, kx + 1]) * int(q[b, ch, yy, xx])
                    v = (acc * int(mult[ch]) + int(bias[ch])) >> int(shift[ch])
                    out[b, ch, y, x] = min(max(v, 0), 255)
    return out


def quantized_stage(cin=6, cout=5, seed=0):
    torch.manual_seed(seed)
    stage = DeformableStage(cin, cout, "bounded", bound=BOUND)
    with torch.no_grad():
        for bn in (stage.dw.bn, stage.pw.bn):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
        stage.offset.conv.weight.normal_(0, 0.05)
    for layer, scale in ((stage.offset, 1.0), (stage.dw, 0.02), (stage.pw, 0.05)):
        layer.in_scale.fill_(0.02 if layer is not stage.pw else 0.02)
        layer.out_scale.fill_(scale)
        layer.quantized.fill_(True)
    return stage.eval()


def f64(t):
    return t.detach().double().numpy().reshape(-1)


def dw_integer_params(layer):
    """The requantization integers re-derived independently: numpy float64, one correctly rounded op at a time."""
    w, w_scale = integer_weight(layer.conv)
    bn = layer.bn
    gain = f64(bn.weight) / np.sqrt(f64(bn.running_var) + bn.eps)
    m = float(layer.in_scale) * f64(w_scale) * gain / float(layer.out_scale)
    b = (f64(bn.bias) - f64(bn.running_mean) * gain) / float(layer.out_scale)
    return w.detach().round().to(torch.int64).numpy(), [t.numpy() for t in dyadic(m, b)]


@pytest.mark.parametrize("pattern", ["random", "all1", "allD", "stripes"])
@pytest.mark.parametrize("size", [(7, 9), (12, 12)])
def test_deformable_equals_direct_loop(pattern, size):
    stage = quantized_stage()
    gen = torch.Generator().manual_seed(hash((pattern, size)) % 1000)
    h, w = size
    q = torch.randint(0, 256, (2, 6, h, w), generator=gen).float()
    q[0, :, 0, :] = 255  # saturating rows and zeros at the border
    q[1, :, :, 0] = 0
    if pattern == "random":
        d = torch.randint(1, BOUND + 1, (2, 1, h, w), generator=gen).float()
    elif pattern == "all1":
        d = torch.ones(2, 1, h, w)
    elif pattern == "allD":
        d = torch.full((2, 1, h, w), float(BOUND))
    else:
        d = (torch.arange(w) % BOUND + 1).float().expand(2, 1, h, w).clone()
    with torch.no_grad():
        got = stage.dw(q, dilation_selector(d, d, BOUND)).numpy().astype(np.int64)
    wi, (mult, bias, shift) = dw_integer_params(stage.dw)
    expected = reference_deformable(q.numpy().astype(np.int64), wi, d.numpy(), mult, bias, shift)
    assert np.array_equal(got, expected)
    assert got.min() >= 0 and got.max() <= 255


def test_predicted_dilation_is_the_integer_requantization():
    stage = quantized_stage()
    q = torch.randint(0, 256, (2, 6, 8, 8), generator=torch.Generator().manual_seed(3)).float()
    with torch.no_grad():
        _, d = stage.offset(q)
    w, w_scale = integer_weight(stage.offset.conv)
    m = float(stage.offset.in_scale) * f64(w_scale)
    mult, bias, shift = (t.numpy() for t in dyadic(m, f64(stage.offset.conv.bias)))
    acc = np.einsum("nchw,oc->nohw", q.numpy().astype(np.int64), w.detach().round().to(torch.int64).numpy()[:, :, 0, 0])
    expected = np.clip((acc * mult[0] + bias[0]) >> shift[0], 1, BOUND)
    assert np.array_equal(d.numpy().astype(np.int64), expected)


@pytest.mark.parametrize("quant", [False, True])
@pytest.mark.parametrize("bias", [-100.0, 1.2, 100.0])
def test_dilation_never_leaves_1_to_D(quant, bias):
    stage = quantized_stage() if quant else DeformableStage(6, 5, "bounded", bound=BOUND).eval()
    with torch.no_grad():
        stage.offset.conv.weight.normal_(0, 3.0)
        stage.offset.conv.bias.fill_(bias)
    x = torch.randint(0, 256, (3, 6, 10, 10)).float()
    with torch.no_grad():
        d = stage.dilation(x)
    assert set(torch.unique(d).tolist()) <= set(range(1, BOUND + 1))
    assert torch.equal(d, d.round())


@pytest.mark.parametrize("quant", [False, True])
def test_gradients_reach_the_dilation_branch(quant):
    stage = quantized_stage() if quant else DeformableStage(6, 5, "bounded", bound=BOUND)
    with torch.no_grad():
        stage.offset.conv.bias.fill_(2.3)  # between integer dilations: the interpolation has a slope
    stage.train()
    x = torch.rand(2, 6, 10, 10) * (255 if quant else 1)
    stage(x).square().sum().backward()
    assert stage.offset.conv.weight.grad.abs().sum() > 0
    assert stage.offset.conv.bias.grad.abs().sum() > 0


def test_selector_is_one_hot_forward():
    real = torch.tensor([[[[1.3, 2.7], [3.49, 3.51]]]])
    integer = torch.floor(real + 0.5).clamp(1, BOUND)
    sel = dilation_selector(real, integer, BOUND)
    assert torch.equal(sel.sum(0), torch.ones_like(real))
    assert torch.equal(sel.argmax(0) + 1, integer.long())
