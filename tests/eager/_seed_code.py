"""The deterministic code examples of the seed tutorials (../shared/seeds/),
verbatim apart from layout. Each maps to the text real PyTorch prints (see
test_seeds.py); examples with random data or no printed output are tested
there as functions."""

S000_GRAPH = """
x = torch.tensor([2.0, 3.0], requires_grad=True)
y = x ** 2 + 3 * x
z = y.sum()
z.backward()
print(x.grad) # tensor([7., 9.]) i.e. 2x + 3
"""

S000_LEAF = """
a = torch.tensor([1.0], requires_grad=True) # leaf
b = a * 2 # NOT a leaf
print(a.is_leaf) # True
print(b.is_leaf) # False
"""

S000_QUADRATIC = """
A = torch.eye(3, dtype=torch.float64)
x = torch.tensor([1., 2., 3.], dtype=torch.float64, requires_grad=True)
f = x @ A @ x
f.backward()
print(x.grad) # tensor([2., 4., 6.]) = 2*A@x
"""

S000_INPLACE_MISTAKE = """
x = torch.tensor([1.0], requires_grad=True)
y = x * 2
y.add_(1) # RuntimeError: in-place operation on a leaf Variable
print(y)
"""

S000_INPLACE_CORRECTION = """
x = torch.tensor([1.0], requires_grad=True)
y = x * 2
y = y + 1 # creates new tensor, graph remains valid
y.backward()
print(y, x.grad)
"""

S001_ENABLE = """
import torch

# Create tensors with gradient tracking
x = torch.tensor([2.0, 3.0], requires_grad=True)
print(f"x: {x}")
print(f"Requires grad: {x.requires_grad}")
print(f"Is leaf: {x.is_leaf}")
print(f"Gradient: {x.grad}")  # None initially

# Create tensor without gradient tracking (default)
y = torch.tensor([1.0, 2.0])
print(f"\\ny requires grad: {y.requires_grad}")

# Enable gradient tracking on existing tensor
y.requires_grad_(True)
print(f"y requires grad now: {y.requires_grad}")
"""

S001_BASIC = """
import torch

# Create tensor with gradient tracking
x = torch.tensor([3.0], requires_grad=True)
print(f"x = {x}")

# Perform operations
y = x ** 2  # y = x²
print(f"y = x² = {y}")

# Compute gradient dy/dx
y.backward()  # Computes gradients

# Access gradient
print(f"dy/dx = {x.grad}")  # Should be 2x = 2*3 = 6
"""

S001_MULTISTEP = """
import torch

x = torch.tensor([2.0], requires_grad=True)
a = torch.tensor([3.0], requires_grad=True)

# Forward pass
y = x ** 2  # y = x²
z = a * y   # z = a * y = a * x²
w = z + 5   # w = a * x² + 5

print(f"x = {x}, a = {a}")
print(f"y = x² = {y}")
print(f"z = a*y = {z}")
print(f"w = z+5 = {w}")

# Backward pass
w.backward()

# Check gradients
print(f"\\ndw/dx = {x.grad}")  # 2*a*x = 2*3*2 = 12
print(f"dw/da = {a.grad}")    # x² = 4
"""

S001_VECTOR = """
import torch

# Vector input
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

# Scalar output
y = (x ** 2).sum()  # y = x₁² + x₂² + x₃²
print(f"y = {y}")

y.backward()
print(f"dy/dx = {x.grad}")  # [2x₁, 2x₂, 2x₃] = [2, 4, 6]
"""

S001_NONSCALAR = """
import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

# Vector output
y = x ** 2  # [1, 4, 9]

# Need to provide gradient for non-scalar
gradient = torch.tensor([1.0, 1.0, 1.0])
y.backward(gradient)

print(f"Gradient: {x.grad}")  # [2, 4, 6]
"""

S001_ACCUMULATION = """
import torch

x = torch.tensor([3.0], requires_grad=True)

# First backward pass
y1 = x ** 2
y1.backward()
print(f"After first backward: x.grad = {x.grad}")

# Second backward pass (gradients accumulate!)
y2 = x ** 3
y2.backward()
print(f"After second backward: x.grad = {x.grad}")

# Zero gradients
x.grad.zero_()
print(f"After zeroing: x.grad = {x.grad}")

# Third backward pass
y3 = x ** 2
y3.backward()
print(f"After third backward: x.grad = {x.grad}")
"""

S001_NO_GRAD = """
import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

# Normal operation - gradients tracked
y = x ** 2
print(f"y requires_grad: {y.requires_grad}")

# Disable gradient tracking temporarily
with torch.no_grad():
    z = x ** 2
    print(f"z requires_grad: {z.requires_grad}")

# Gradients tracked again
w = x ** 2
print(f"w requires_grad: {w.requires_grad}")
"""

S001_DETACH = """
import torch

x = torch.tensor([2.0], requires_grad=True)

# Create computation graph
y = x ** 2
z = y ** 3

# Detach y from graph
y_detached = y.detach()
print(f"y requires_grad: {y.requires_grad}")
print(f"y_detached requires_grad: {y_detached.requires_grad}")

# Backward through z
w = y_detached * 2
# w.backward()  # Error! y_detached has no gradient
"""

S001_SET_GRAD_ENABLED = """
import torch

# Enable/disable globally
torch.set_grad_enabled(False)
x = torch.tensor([1.0], requires_grad=True)
y = x ** 2
print(f"Grad enabled False - y.requires_grad: {y.requires_grad}")

torch.set_grad_enabled(True)
z = x ** 2
print(f"Grad enabled True - z.requires_grad: {z.requires_grad}")
"""

S001_GRAPH = """
import torch

x = torch.tensor([2.0], requires_grad=True)
w = torch.tensor([3.0], requires_grad=True)
b = torch.tensor([1.0], requires_grad=True)

# Build graph
y = w * x + b  # Linear function
z = y ** 2      # Square

print(f"y: {y}")
print(f"z: {z}")

# Check graph
print(f"\\nz.grad_fn: {z.grad_fn}")  # PowBackward
print(f"y.grad_fn: {y.grad_fn}")    # AddBackward
print(f"x.grad_fn: {x.grad_fn}")    # None (leaf node)
"""

S001_LEAF = """
import torch

x = torch.tensor([1.0], requires_grad=True)  # Leaf
y = x * 2                                     # Non-leaf
z = y + 3                                     # Non-leaf

print(f"x is_leaf: {x.is_leaf}")  # True
print(f"y is_leaf: {y.is_leaf}")  # False
print(f"z is_leaf: {z.is_leaf}")  # False

# Only leaf nodes retain gradients by default
z.backward()
print(f"\\nx.grad: {x.grad}")      # Available
print(f"y.grad: {y.grad}")        # None (non-leaf)
print(f"z.grad: {z.grad}")        # None (non-leaf)
"""

S001_RETAIN = """
import torch

x = torch.tensor([2.0], requires_grad=True)
y = x ** 2
y.retain_grad()  # Keep gradient for non-leaf node

z = y ** 3
z.backward()

print(f"x.grad: {x.grad}")  # Leaf - always available
print(f"y.grad: {y.grad}")  # Non-leaf - available due to retain_grad()
"""

S001_GD_VISUAL = """
import torch
import numpy as np

# Function: f(x) = x²
x_range = np.linspace(-5, 5, 100)
y_range = x_range ** 2

# Gradient descent
x = torch.tensor([-4.0], requires_grad=True)
learning_rate = 0.1
steps = 20

x_history = [x.item()]

for step in range(steps):
    y = x ** 2
    y.backward()

    with torch.no_grad():
        x -= learning_rate * x.grad
    x.grad.zero_()

    x_history.append(x.item())

print(f"Start: x = -4.0")
print(f"End: x = {x.item():.4f}")
print(f"Optimum: x = 0.0")
"""

S001_SECOND_DERIVATIVE = """
import torch

x = torch.tensor([2.0], requires_grad=True)

# First derivative
y = x ** 3
y.backward(create_graph=True)  # Keep graph for second derivative

first_grad = x.grad.clone()
print(f"First derivative (3x²): {first_grad.item()}")

# Second derivative
x.grad.zero_()
first_grad.backward()
second_grad = x.grad
print(f"Second derivative (6x): {second_grad.item()}")
"""

S001_PITFALL_INPLACE = """
import torch

x = torch.tensor([1.0], requires_grad=True)

# Bad: In-place operation
# x += 1  # Error during backward!

# Good: Create new tensor
x = x + 1

y = x ** 2
y.backward()
print(f"Gradient: {x.grad}")
"""

S001_PITFALL_ZERO = """
import torch

x = torch.tensor([2.0], requires_grad=True)

# Iteration 1
y = x ** 2
y.backward()
print(f"Iteration 1: {x.grad}")

# Iteration 2 (forgot to zero!)
y = x ** 2
y.backward()
print(f"Iteration 2 (accumulated): {x.grad}")

# Correct way
x.grad.zero_()
y = x ** 2
y.backward()
print(f"Iteration 3 (zeroed): {x.grad}")
"""

S001_PITFALL_MULTIPLE = """
import torch

x = torch.tensor([2.0], requires_grad=True)
y = x ** 2

# First backward
y.backward(retain_graph=True)
print(f"First backward: {x.grad}")

# Second backward (need retain_graph=True)
x.grad.zero_()
y.backward()
print(f"Second backward: {x.grad}")
"""

S001_CUSTOM_FUNCTION = """
import torch
from torch.autograd import Function

class MySquare(Function):
    @staticmethod
    def forward(ctx, input):
        # Save input for backward
        ctx.save_for_backward(input)
        return input ** 2

    @staticmethod
    def backward(ctx, grad_output):
        # Retrieve saved input
        input, = ctx.saved_tensors
        # Gradient: d(x²)/dx = 2x
        return grad_output * 2 * input

# Use custom function
x = torch.tensor([3.0], requires_grad=True)
square = MySquare.apply

y = square(x)
y.backward()

print(f"x: {x}")
print(f"y: {y}")
print(f"dy/dx: {x.grad}")  # 2*3 = 6
"""

S001_EXERCISE1 = """
import torch

# Compute gradient of f(x, y) = x²y + y³ at x=2, y=3
x = torch.tensor([2.0], requires_grad=True)
y = torch.tensor([3.0], requires_grad=True)

f = x**2 * y + y**3
f.backward()

print(f"∂f/∂x = {x.grad.item()}")  # 2xy = 2*2*3 = 12
print(f"∂f/∂y = {y.grad.item()}")  # x² + 3y² = 4 + 27 = 31
"""

S002_INTRO = """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2 + 3 * x
print(y)
print(y.requires_grad)
print(y.grad_fn)
y.backward()
print(x.grad) # tensor(7.)
"""

S002_LEAF = """
x = torch.tensor(2.0, requires_grad=True)
w = torch.tensor(3.0, requires_grad=True)
y = w * x
print(x.is_leaf) # True
print(w.is_leaf) # True
print(y.is_leaf) # False
y.backward()
print(x.grad) # tensor(3.)
print(w.grad) # tensor(2.)
print(y.grad) # usually None
"""

S002_RETAIN = """
x = torch.tensor(2.0, requires_grad=True)
a = x ** 2
a.retain_grad()
y = 3 * a
y.backward()
print(a.grad) # tensor(3.)
"""

S002_DYNAMIC = """
x = torch.tensor(2.0, requires_grad=True)
if x.item() > 0:
    y = x ** 2
else:
    y = -x
y.backward()
print(x.grad) # tensor(4.)
"""

S002_NODES = """
x = torch.tensor(2.0, requires_grad=True)
a = x + 1
b = a ** 2
c = b.mean()
print(a.grad_fn)
print(b.grad_fn)
print(c.grad_fn)
"""

S002_ACCUMULATION = """
x = torch.tensor(2.0, requires_grad=True)
y1 = x ** 2
y1.backward()
print(x.grad) # tensor(4.)
y2 = 3 * x
y2.backward()
print(x.grad) # tensor(7.)
"""

S002_DETACH = """
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2
z = y.detach()
print(y.requires_grad) # True
print(z.requires_grad) # False
"""

S002_DETACH_LOSS = """
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2
z = y.detach()
loss = 3 * z
print(loss.requires_grad) # False
"""

S002_BACKWARD = """
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
y.backward()
print(x.grad) # tensor(12.)
"""

S002_AUTOGRAD_GRAD = """
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
grad_x = torch.autograd.grad(y, x)[0]
print(grad_x) # tensor(12.)
print(x.grad) # None
"""

S002_HIGHER_ORDER = """
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
dy_dx = torch.autograd.grad(y, x, create_graph=True)[0]
d2y_dx2 = torch.autograd.grad(dy_dx, x)[0]
print(dy_dx) # tensor(12., grad_fn=<MulBackward0>)
print(d2y_dx2) # tensor(12.)
"""

S002_CUSTOM_FUNCTION = """
import torch

class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_x = grad_output * 2 * x
        return grad_x

x = torch.tensor(3.0, requires_grad=True)
y = Square.apply(x)
y.backward()
print(x.grad) # tensor(6.)
"""

S002_GRADCHECK = """
import torch
from torch.autograd import gradcheck

class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x

x = torch.randn(3, dtype=torch.double, requires_grad=True)
test = gradcheck(Square.apply, (x,))
print(test)
"""

S002_VIEW = """
x = torch.arange(6.0, requires_grad=True)
y = x.view(2, 3)
print(y)
"""

S002_PERMUTE = """
x = torch.randn(2, 3, 4)
y = x.permute(0, 2, 1)
print(y.is_contiguous()) # False
z = y.contiguous()
print(z.is_contiguous())
"""

S004_REQUIRES_GRAD = """
import torch

x = torch.tensor([1.], requires_grad=True) # should be float (1.0)
print(x)
"""

S004_SET_REQUIRES_GRAD = """
x = torch.tensor([1.])
print(x)
print(x.requires_grad)

x.requires_grad = True
print(x)
print(x.requires_grad)
"""

S004_BASIC = """
x = torch.tensor([1.], requires_grad=True)
y = x**2
print(y) # Can check PowBackward0

print(x.grad)
y.backward()
print(x.grad) # y=x**2 -> dy/dx = 2x = 2*1 = 2
"""

S004_CHAIN = """
x = torch.tensor([1.], requires_grad=True)
y = x**2
print(y) # Can check PowBackward0

z = 3*y  # 3 * x^2 -> dz/dx = 6x
print(z) # Can check MulBackward0

z.backward()
print(x.grad) # chain rule
"""

S004_COMPLEX = """
x = torch.tensor([1.], requires_grad=True)
a = x**2
b = a+1
print(b) # Can check AddBackward0

c = b**2
c.backward()
print(x.grad)
"""

S004_MULTIPLE = """
x = torch.tensor([1.], requires_grad=True)
y = torch.tensor([1.], requires_grad=True)
z = 2*x**2 + y**2
print(z)
z.backward()
print(x.grad)
print(y.grad)
"""

S004_PRODUCT = """
x = torch.tensor([1.], requires_grad=True)
y = torch.tensor([1.], requires_grad=True)
z = y*x**2
z.backward()
print(x.grad)
print(y.grad)
"""

S004_VECTOR = """
x = torch.tensor([1., 2., 3.], requires_grad=True)
y = torch.sum(x**2) # 1^2 + 2^2 + 3^2 = 14
y.backward()

print(y)
print(x.grad) # 2x -> [2*1, 2*2, 2*3]
"""

S004_REQUIRES_GRAD_FALSE = """
x = torch.tensor([1.], requires_grad=True)
x.requires_grad = False
# Useful for transfer learning
y = x**2
print(y)
# y.backward() # error
"""

S004_DETACH = """
x = torch.tensor([2.], requires_grad=True)
x2 = x.detach() # detach creates new tensor which is requires_grad=False
print(x)
print(x2)

y = x**2
print(y)
y2 = x2**2
print(y2)
"""

S004_DETACH_PRACTICAL = """
# Usage of detach
x = torch.tensor([1.], requires_grad=True)
y = x**2
z = y.detach() # convert into variable
w = y+z        # w = x**2 + constant

w.backward()
print(x.grad)
"""

S004_NO_GRAD = """
# torch.no_grad
x = torch.tensor([1.], requires_grad=True)

# For model testing, unnecessary to update grad_fn
with torch.no_grad():
    y = x**2
    print(x.requires_grad)
    print(y)

print(x.requires_grad)
# y.backward() # error
y = x**2
print(y)

x = torch.tensor([1.], requires_grad=True)
x.requires_grad = False
y = x**2
print(x.requires_grad)
print(y)
# y.backward() # error
"""

S003_MUL = """
import torch
x = torch.tensor([2.0], requires_grad=True)
y = torch.tensor([3.0], requires_grad=True)
C = x * y
print(C)
# Output: tensor([6.], grad_fn=<MulBackward0>)
"""

S003_CHAIN = """
x = torch.tensor([2.0], requires_grad=True)
y = torch.tensor([3.0], requires_grad=True)
z = x * y # multiplication
w = z + 2 # addition
q = w ** 2 # squaring
curr = q.grad_fn
print(curr)
# Output: <PowBackward0> ← corresponds to `w ** 2`
curr = curr.next_functions[0][0]
print(curr)
# Output: <AddBackward0> ← corresponds to `z + 2`
curr = curr.next_functions[0][0]
print(curr)
# Output: <MulBackward0> ← corresponds to `x * y`
"""

SNIPPETS = {k: v for k, v in globals().items() if k.startswith("S0")}
