"""Anomaly mode (issue 14): the node that produced a NaN is named, with the forward traceback that made
it (the user's file:line); off by default; same texts as torch."""
from __future__ import annotations

import warnings

import pytest

import adcompiler as ad
from tests.eager._compare import attempt, torch_or_skip, val


def _run(T, body):
    """(error, warning texts) of body(T) under detect_anomaly."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with T.autograd.detect_anomaly():
            err = attempt(lambda: body(T))
    return err, [str(m.message) for m in w if m.category is UserWarning]


def nan_from_sqrt(T):
    x = T.tensor([0., 2.], requires_grad=True)
    y = x.sqrt()                                   # line marker: SQRT
    (y * 0).sum().backward()


def nan_from_pow_at_zero(T):
    x = T.tensor([0., 2.], requires_grad=True)
    z = x ** 0.5
    (z * T.tensor([0., 1.])).sum().backward()


def error_in_custom_backward(T):
    class Bad(T.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")
    x = T.tensor([1., 2.], requires_grad=True)
    Bad.apply(x).sum().backward()


def _line_of(fn, marker):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def _user_frames(message):
    """The `File ..., line ...` lines of a traceback text that are in this file (torch also shows its own
    Python frames, e.g. Function.apply; adcompiler shows none of its own)."""
    return [line.strip() for line in message.splitlines() if line.strip().startswith(f'File "{__file__}"')]


@pytest.mark.parametrize("body", [nan_from_sqrt, nan_from_pow_at_zero, error_in_custom_backward])
def test_error_and_warnings_as_torch(body):
    real = torch_or_skip()
    ours, theirs = _run(ad, body), _run(real, body)
    assert ours[0] == theirs[0]
    assert [m.splitlines()[0] for m in ours[1]] == [m.splitlines()[0] for m in theirs[1]]
    # the forward traceback goes through the same user lines
    assert _user_frames(ours[1][-1]) == _user_frames(theirs[1][-1])


def test_names_the_node_and_the_users_line():
    err, warns = _run(ad, nan_from_sqrt)
    assert err == "RuntimeError: Function 'SqrtBackward0' returned nan values in its 0th output."
    assert warns[0].startswith("Anomaly Detection has been enabled.")
    assert warns[1].startswith("Error detected in SqrtBackward0. Traceback of forward call that caused the error:")
    last = warns[1].rstrip().splitlines()[-2:]
    assert last[0] == f'  File "{__file__}", line {_line_of(nan_from_sqrt, "SQRT")}, in nan_from_sqrt'
    assert last[1].strip().startswith("y = x.sqrt()")
    assert "adcompiler" not in warns[1].replace(__file__, "")   # no frame from inside the library


def test_the_error_itself_carries_the_forward_line():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ad.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="returned nan values") as info:
                nan_from_sqrt(ad)
    assert f"{__file__}:{_line_of(nan_from_sqrt, 'SQRT')}" in "".join(info.value.__notes__)


def test_off_by_default_and_restored():
    assert not ad.autograd.is_anomaly_enabled()
    x = ad.tensor([-1., 4.], requires_grad=True)
    x.sqrt().sum().backward()                      # NaN gradient, no error (as torch)
    assert val(x.grad)[1] == 0.25 and val(x.grad)[0] != val(x.grad)[0]
    with pytest.warns(UserWarning):
        with ad.autograd.detect_anomaly():
            assert ad.autograd.is_anomaly_enabled() and ad.autograd.is_anomaly_check_nan_enabled()
            y = (x * 2).exp()
            assert y.grad_fn._hooks.trace is not None
    assert not ad.autograd.is_anomaly_enabled()
    assert (x * 2).grad_fn._hooks is None          # nothing recorded when off


def test_set_detect_anomaly_call_context_and_check_nan():
    ad.autograd.set_detect_anomaly(True)
    try:
        assert ad.autograd.is_anomaly_enabled()
        x = ad.tensor([-1.], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                x.sqrt().backward()
            with ad.autograd.set_detect_anomaly(True, check_nan=False):
                x.sqrt().backward()                # NaN allowed
                assert not ad.autograd.is_anomaly_check_nan_enabled()
            assert ad.autograd.is_anomaly_check_nan_enabled()
    finally:
        ad.autograd.set_detect_anomaly(False)
    assert not ad.autograd.is_anomaly_enabled()


def test_node_made_outside_anomaly_mode():
    x = ad.tensor([-1.], requires_grad=True)
    y = x.sqrt()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with ad.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                y.backward()
    assert "No forward pass information available" in str(w[-1].message)


def test_detect_anomaly_as_a_decorator():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        @ad.autograd.detect_anomaly()
        def run():
            assert ad.autograd.is_anomaly_enabled()
            nan_from_sqrt(ad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="SqrtBackward0"):
            run()
    assert not ad.autograd.is_anomaly_enabled()
