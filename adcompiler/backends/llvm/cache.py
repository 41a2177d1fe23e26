"""The native tier's disk cache of object code (stored by adcompiler/diskcache.py).

An entry is keyed by the sha256 of what the machine code depends on: the IR
text (without source locations), the lowering version, llvmlite's and LLVM's
versions, the host triple, CPU name and features. On a hit the object code is
loaded without running LLVM's optimiser or code generator.
"""
from __future__ import annotations

import hashlib

from ...diskcache import DiskStore, enabled

__all__ = ["cache_dir", "enabled", "key_for", "load", "store", "stats"]

_STORE = DiskStore("native", b"ADCNATIVE1\n", ".o")
stats = _STORE.stats
load, store, cache_dir = _STORE.load, _STORE.store, _STORE.directory


def key_for(ir_text, *parts):
    """The cache key of an IR text (locations are dropped) and everything else code depends on."""
    lines = [line.split("  #", 1)[0].rstrip() for line in ir_text.splitlines()]
    h = hashlib.sha256()
    for p in ["\n".join(lines), *map(str, parts)]:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()
