"""Exercise: write your own differentiable op (Swish), gradcheck it, and watch a bug get caught.

    python examples/gradcheck_exercise.py

Swish (a.k.a. SiLU): f(x) = x * sigmoid(x). With s = sigmoid(x) its derivative is
f'(x) = s + x * s * (1 - s). A Function subclass pairs that forward with that backward;
minicnn.gradcheck compares backward with central finite differences, in float64.
Then the same op with a classic mistake (forgetting the product rule) is checked, and
the report shows where it fails.
"""
import numpy as np

import minicnn
import minicnn.nn as nn


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Swish(minicnn.Function):
    """y = x * sigmoid(x), elementwise; forward and backward work on ndarrays."""

    @staticmethod
    def forward(ctx, x):
        s = sigmoid(x)
        ctx.save_for_backward(x, s)  # backward needs both; saving s avoids recomputing exp
        return x * s

    @staticmethod
    def backward(ctx, grad_out):
        x, s = ctx.saved_tensors
        return grad_out * (s + x * s * (1 - s))  # dy/dx = s + x s (1 - s)


class WrongSwish(Swish):
    """The same forward, but backward treats sigmoid(x) as a constant: dy/dx = s (wrong)."""

    @staticmethod
    def backward(ctx, grad_out):
        x, s = ctx.saved_tensors
        return grad_out * s  # missing the x * s * (1 - s) term of the product rule


class SwishModule(nn.Module):
    """Swish as a layer, usable inside nn.Sequential."""

    def forward(self, x):
        return Swish.apply(x)


def main():
    minicnn.manual_seed(0)
    # float64: finite differences with eps=1e-6 need the extra precision.
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((3, 4)), dtype=np.float64,
                       requires_grad=True)

    print("1. gradcheck(Swish):", minicnn.gradcheck(Swish.apply, (x,)))

    print("2. gradcheck(WrongSwish):")
    try:
        minicnn.gradcheck(WrongSwish.apply, (x,))
        raise SystemExit("the wrong backward was NOT caught - that should not happen")
    except minicnn.GradcheckError as error:
        print("   caught, as expected. The report:")
        print("   " + str(error).replace("\n", "\n   "))
        print(f"   worst element {error.index}: numeric {error.numeric:.6f}, "
              f"analytic {error.analytic:.6f}")

    # 3. The op inside a model: gradients flow through it into the layers before it.
    layer = nn.Linear(4, 2).double()
    model = nn.Sequential(layer, SwishModule())
    print("3. gradcheck(Linear -> Swish) w.r.t. input, weight and bias:",
          minicnn.gradcheck(lambda inp, w, b: Swish.apply(inp @ w.T + b),
                            (x, layer.weight, layer.bias)))
    model(x).sum().backward()
    print("   after backward, weight.grad has shape", layer.weight.grad.shape)


if __name__ == "__main__":
    main()
