"""The native tier's disk cache of object code.

An entry is keyed by the sha256 of what the machine code depends on: the IR
text (without source locations), the lowering version, llvmlite's and LLVM's
versions, the host triple, CPU name and features. On a hit the object code is
loaded without running LLVM's optimiser or code generator.

Where: $ADCOMPILER_CACHE_DIR, else $XDG_CACHE_HOME/adcompiler, else
~/.cache/adcompiler (in a `native/` folder). ADCOMPILER_CACHE=0 disables it.
An entry is written to a temporary file and renamed into place (readers never
see half an entry; concurrent writers of one key write the same bytes), and
carries a checksum of its contents: an entry that is truncated, corrupt, of
another key or another format is ignored (and rebuilt). A read-only or missing
directory only means nothing is cached.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

__all__ = ["cache_dir", "enabled", "key_for", "load", "store", "stats"]

_MAGIC = b"ADCNATIVE1\n"
stats = {"hits": 0, "misses": 0, "writes": 0, "rejected": 0}


def enabled():
    return os.environ.get("ADCOMPILER_CACHE", "1") not in ("0", "false", "no", "off")


def cache_dir():
    root = os.environ.get("ADCOMPILER_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "adcompiler")
    return os.path.join(root, "native")


def key_for(ir_text, *parts):
    """The cache key of an IR text (locations are dropped) and everything else code depends on."""
    lines = [line.split("  #", 1)[0].rstrip() for line in ir_text.splitlines()]
    h = hashlib.sha256()
    for p in ["\n".join(lines), *map(str, parts)]:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(key):
    return os.path.join(cache_dir(), key[:2], key + ".o")


def load(key):
    """(metadata dict, object code bytes) stored under `key`, or None."""
    if not enabled():
        return None
    try:
        with open(_path(key), "rb") as f:
            data = f.read()
    except OSError:
        stats["misses"] += 1
        return None
    entry = _parse(data, key)
    if entry is None:
        stats["rejected"] += 1
        return None
    stats["hits"] += 1
    return entry


def _parse(data, key):
    if not data.startswith(_MAGIC):
        return None
    try:
        head_end = data.index(b"\n", len(_MAGIC))
        head = json.loads(data[len(_MAGIC):head_end])
        body = data[head_end + 1:]
        if head.get("key") != key or len(body) != head["size"] or hashlib.sha256(body).hexdigest() != head["sha256"]:
            return None
        meta = json.loads(body[:head["meta"]])
        return meta, body[head["meta"]:]
    except (ValueError, KeyError, TypeError):
        return None


def store(key, meta, obj):
    """Write an entry atomically; any OS error (read-only directory ...) just leaves it unwritten."""
    if not enabled():
        return False
    meta_bytes = json.dumps(meta).encode()
    body = meta_bytes + bytes(obj)
    head = json.dumps({"key": key, "size": len(body), "meta": len(meta_bytes),
                       "sha256": hashlib.sha256(body).hexdigest()}).encode()
    path = _path(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + head + b"\n" + body)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return False
    stats["writes"] += 1
    return True
