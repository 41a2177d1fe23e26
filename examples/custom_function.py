"""A custom differentiable operation with autograd.Function, checked by gradcheck.

Two classics: `Exp` (saves its result for backward) and `LegendreP3`
(P3(x) = (5x³ - 3x) / 2, whose backward is written by hand). gradcheck
compares each backward with central finite differences in float64.

    python examples/custom_function.py
"""
import adcompiler as ad
from adcompiler.autograd import Function, gradcheck


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class LegendreP3(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


class ScaledMul(Function):
    """Two tensor inputs and a plain-number one (which gets None as its gradient)."""

    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * b * ctx.scale, grad_output * a * ctx.scale, None


def main():
    x = ad.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = Exp.apply(x)
    print("Exp.apply(x)      =", y)
    y.sum().backward()
    print("x.grad            =", x.grad, " (equals exp(x))")

    x = ad.tensor([0.5, -1.0, 2.0], requires_grad=True)
    p = LegendreP3.apply(x)
    p.sum().backward()
    print("P3(x)             =", p)
    print("P3'(x)            =", x.grad, " (1.5 * (5x² - 1))")

    x64 = ad.randn(4, dtype=ad.float64, requires_grad=True)
    a64 = ad.randn(3, 1, dtype=ad.float64, requires_grad=True)
    b64 = ad.randn(1, 4, dtype=ad.float64, requires_grad=True)
    checks = {
        "Exp": gradcheck(Exp.apply, (x64,), eps=1e-6, atol=1e-4),
        "LegendreP3": gradcheck(LegendreP3.apply, (x64,), eps=1e-6, atol=1e-4),
        "ScaledMul": gradcheck(lambda a, b: ScaledMul.apply(a, b, 3.0), (a64, b64), eps=1e-6, atol=1e-4),
    }
    for name, ok in checks.items():
        print(f"gradcheck({name}) = {ok}")
    assert all(checks.values())
    return checks


if __name__ == "__main__":
    main()
