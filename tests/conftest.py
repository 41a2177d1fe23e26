"""Test-session settings: the native tier's disk cache goes to a temporary folder, not the user's;
in CI (CI set) the torch oracle must be installed, so its tests run instead of skipping."""
import importlib.util
import os
import tempfile

import pytest


def pytest_sessionstart(session):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("CI: torch (pip install torch==2.13.0) is not installed, so the torch oracle tests "
                                "would be skipped; install it")


@pytest.fixture(autouse=True, scope="session")
def _private_native_cache():
    with tempfile.TemporaryDirectory(prefix="adc-test-cache-") as d:
        old = os.environ.get("ADCOMPILER_CACHE_DIR")
        os.environ["ADCOMPILER_CACHE_DIR"] = d
        yield d
        if old is None:
            os.environ.pop("ADCOMPILER_CACHE_DIR", None)
        else:
            os.environ["ADCOMPILER_CACHE_DIR"] = old
