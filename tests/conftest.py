"""Test-session settings: the native tier's disk cache goes to a temporary folder, not the user's."""
import os
import tempfile

import pytest


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
