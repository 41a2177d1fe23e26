"""The tracer runs what the user's Python runs: printing and logging a traced value
(formatting reads the value, no gradient is lost), and modules with lazy proxies
among their globals (objects whose __class__ or __getattr__ raise)."""
import logging
import re
import types
import warnings

import numpy as np
import pytest

import adcompiler as ad
from adcompiler.tracing import TracingError

from .numeric import fd_grad

X = np.array([0.5, -1.5, 2.0])
log = logging.getLogger("adcompiler.tests.tracer")


def prints_and_logs(x):
    loss = np.sum(x * x)
    print(f"loss={loss:.3f} raw={loss} x={x}")
    print("percent %.2f %d" % (loss, loss))
    print(loss, str(loss))
    log.info("loss %.4f (%s)", loss, loss)
    log.info(f"f-string {loss:.1f}")
    print(f"as float {float(loss):.2f} item {loss.item()}")
    return loss * np.sum(x)


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_printing_and_logging_a_traced_value_prints_it(fallback, capsys, caplog):
    with caplog.at_level(logging.INFO, logger=log.name), warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g = ad.grad(prints_and_logs, fallback=fallback)
        got = g(X.copy())
    out = capsys.readouterr().out
    assert "loss=6.500 raw=6.5 x=[ 0.5 -1.5  2. ]" in out
    assert "percent 6.50 6" in out and "6.5 6.5" in out and "as float 6.50 item 6.5" in out
    assert "loss 6.5000 (6.5)" in caplog.text and "f-string 6.5" in caplog.text
    assert g.mode == "traced"   # print() is a side effect the compiler refuses
    np.testing.assert_allclose(got, fd_grad(prints_and_logs, X), rtol=1e-7)


def float_flows_back(x):
    s = float(np.sum(x))
    return np.sum(x * s)


def item_kept_in_a_variable(x):
    s = np.sum(x).item()
    print(f"{s:.3f}")
    return np.sum(x * s)


@pytest.mark.parametrize("f, what", [(float_flows_back, "float()"), (item_kept_in_a_variable, ".item()")])
def test_a_float_that_flows_back_into_the_computation_is_still_refused(f, what):
    with pytest.raises(TracingError, match=rf"{re.escape(what)} on a traced value would lose its gradient"):
        ad.grad(f, fallback="always")(X)


# ---- lazy proxies among the module's globals -------------------------------------------------

class _ContextProxy:
    """Like werkzeug's LocalProxy outside an application context."""
    @property
    def __class__(self):
        raise RuntimeError("working outside of application context")

    def __getattr__(self, name):
        raise RuntimeError(f"working outside of application context ({name})")


class _LazyModule(types.ModuleType):
    def __getattr__(self, name):
        raise ImportError(f"optional dependency 'heavy' is not installed ({name})")


current_app = _ContextProxy()
heavy = _LazyModule("heavy")


def reads_the_proxy(x):
    if current_app is None:
        return np.sum(x)
    return np.sum(x * x * x)


def reads_the_lazy_module(x):
    m = heavy
    return np.sum(np.sin(x)) if m is not None else 0.0


def unrelated(x):
    return np.sum(np.cos(x) * x)


@pytest.mark.parametrize("f, mode", [(reads_the_proxy, "traced"), (reads_the_lazy_module, "compiled"),
                                     (unrelated, "compiled")])
def test_lazy_proxies_among_the_globals_do_not_break_the_module(f, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.FallbackWarning)
        g = ad.value_and_grad(f)
        v, d = g(X.copy())
    tv, td = ad.value_and_grad(f, fallback="always")(X.copy())
    assert g.mode == mode, g.explain()
    assert v == pytest.approx(f(X.copy()), rel=1e-14) and tv == pytest.approx(v, rel=1e-14)
    np.testing.assert_allclose(d, fd_grad(f, X), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(td, d, rtol=1e-12)
    if mode == "traced":
        assert "'current_app' cannot be inspected at compile time (reading its __class__ raised RuntimeError" \
            in g.explain() and "test_tracer_coverage.py:" in g.explain()
