"""The requantization arithmetic: dyadic integers reproduce round-half-up of the real affine map."""

import numpy as np
import torch

from codenet.model.quant import MULT_BITS, dyadic, requantize, requantize_int


def test_dyadic_rounds_half_up_like_the_real_map():
    gen = torch.Generator().manual_seed(0)
    m = torch.rand(16, generator=gen) * 0.01 + 1e-4
    b = (torch.rand(16, generator=gen) - 0.5) * 100
    mult, bias, shift = dyadic(m, b)
    assert (mult.abs() < 2 ** MULT_BITS).all() and (mult.abs() >= 2 ** (MULT_BITS - 1)).all()
    acc = torch.randint(-(2 ** 20), 2 ** 20, (4, 16, 5, 5), generator=gen).double()
    got = requantize_int(acc, mult, bias, shift, -(2 ** 30), 2 ** 30)
    # the same integers from the dyadic form in exact Python integers
    a = acc.to(torch.int64).numpy()
    exp = np.floor_divide(a * mult.numpy()[None, :, None, None] + bias.numpy()[None, :, None, None],
                          2 ** shift.numpy()[None, :, None, None])
    assert np.array_equal(got.to(torch.int64).numpy(), exp)
    # and they are the real map rounded half up, up to the dyadic approximation of m and b
    real = acc * (mult.double() / 2.0 ** shift.double()).view(1, -1, 1, 1) + \
        ((bias.double() - 2.0 ** (shift.double() - 1)) / 2.0 ** shift.double()).view(1, -1, 1, 1)
    assert torch.equal(got.double(), torch.floor(real + 0.5))


def test_ties_round_up():
    # m = 1/2, b = 0: acc 1 -> 0.5 -> 1, acc -1 -> -0.5 -> 0, acc 3 -> 1.5 -> 2
    mult, bias, shift = dyadic(torch.tensor([0.5]), torch.tensor([0.0]))
    acc = torch.tensor([1.0, -1.0, 3.0, 5.0]).view(1, 1, 1, 4)
    got = requantize_int(acc, mult, bias, shift, -100, 100).flatten().tolist()
    assert got == [1.0, 0.0, 2.0, 3.0]


def test_requantize_clamps_and_passes_gradient_inside():
    leaf = torch.tensor([-1000.0, 10.0, 1000.0], requires_grad=True)
    y = requantize(leaf.view(1, 1, 1, 3), torch.tensor([0.5]), torch.tensor([0.0]), 0, 255)
    assert y.flatten().tolist() == [0.0, 5.0, 255.0]
    y.sum().backward()
    assert leaf.grad.tolist() == [0.0, 0.5, 0.0]
