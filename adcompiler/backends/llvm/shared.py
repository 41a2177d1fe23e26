"""Native kernels as shared libraries, so a later process loads one with dlopen — without
importing llvmlite or running LLVM at all.

When a system linker is on PATH (`cc`, else `ld`), the object code of a newly compiled kernel is
also linked into a `.so` and cached (stored by adcompiler/diskcache.py: atomic, checksummed). Its
key is computed without LLVM: the IR text, the lowering version, the options, llvmlite's version
and the host (machine, OS, CPU model and flags). On a hit the library is written to a private
file, opened with ctypes and unlinked. Without a linker, or when linking or loading fails, the
object-code cache (cache.py) and MCJIT do the job as before: this is only a faster path.
"""
from __future__ import annotations

import ctypes
import functools
import itertools
import os
import platform
import sys
import threading

from ...diskcache import DiskStore
from .cache import key_for as _key_for

__all__ = ["key_for", "load", "store", "store_soon", "stats"]

_STORE = DiskStore("native-lib", b"ADCNATIVELIB1\n", ".lib")
_loads = itertools.count()
stats = _STORE.stats


@functools.lru_cache(maxsize=None)
def host_fingerprint():
    """What machine code depends on besides the IR, read without LLVM."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags", "Features", "CPU part"))]
        cpu = "".join(sorted(set(lines)))
    except OSError:
        cpu = platform.processor()     # runs a subprocess on some systems: only without /proc
    import llvmlite        # the package alone (its version): not llvmlite.binding, which loads LLVM
    llvmlite_version = llvmlite.__version__
    return (platform.machine(), platform.system(), sys.implementation.cache_tag, llvmlite_version, cpu)


def key_for(ir_text, *parts):
    return _key_for(ir_text, *parts, *host_fingerprint())


def _linker():
    import shutil
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc:
        return [cc, "-shared"]
    ld = shutil.which("ld")
    return [ld, "-shared"] if ld else None


def store(key, meta, obj):
    """Link object code `obj` into a shared library and cache it; False if there is no linker or
    anything fails (nothing is stored then)."""
    import subprocess
    import tempfile
    linker = _linker() if sys.platform.startswith("linux") else None
    if linker is None:
        return False
    try:
        with tempfile.TemporaryDirectory(prefix="adc-link-") as tmp:
            o, so = os.path.join(tmp, "kernel.o"), os.path.join(tmp, "kernel.so")
            with open(o, "wb") as f:
                f.write(bytes(obj))
            done = subprocess.run(linker + ["-o", so, o], capture_output=True, timeout=60)
            if done.returncode != 0:
                return False
            with open(so, "rb") as f:
                lib = f.read()
    except (OSError, subprocess.SubprocessError):
        return False
    return _STORE.store(key, meta, lib)


def store_soon(key, meta, obj):
    """`store` in a thread of its own: linking (tens of ms) is not on the first call's path.
    Not a daemon thread, so a process that exits right away still finishes the entry."""
    from ...diskcache import enabled
    if enabled() and sys.platform.startswith("linux"):
        threading.Thread(target=store, args=(key, meta, obj), name="adcompiler-link").start()


def load(key):
    """(metadata, library handle, address of `kernel`) for `key`, or None."""
    if not sys.platform.startswith("linux"):
        return None
    entry = _STORE.load(key)
    if entry is None:
        return None
    meta, lib = entry
    for folder in (os.path.dirname(_STORE.path(key)), os.environ.get("TMPDIR") or "/tmp"):
        path = os.path.join(folder, f".load-{os.getpid()}-{threading.get_ident()}-{next(_loads)}.so")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(lib)
            handle = ctypes.CDLL(path)
            return meta, handle, ctypes.cast(handle.kernel, ctypes.c_void_p).value
        except (OSError, AttributeError):
            continue
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
    stats["hits"] -= 1
    stats["rejected"] += 1
    return None
