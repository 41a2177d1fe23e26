"""Entries on disk that a later process may load: the one place for where they live and how they
are written and checked (the native tier's object code and the compiled-gradient cache use it).

Where: $ADCOMPILER_CACHE_DIR, else $XDG_CACHE_HOME/adcompiler, else ~/.cache/adcompiler, one
folder per store. ADCOMPILER_CACHE=0 disables every store. An entry is written to a temporary
file and renamed into place (readers never see half an entry; concurrent writers of one key write
the same bytes), and carries its key and a checksum of its contents: an entry that is truncated,
corrupt, of another key or another format is ignored (and rebuilt by the caller). A read-only or
missing directory only means nothing is cached.
"""
from __future__ import annotations

import hashlib
import json
import os

__all__ = ["DiskStore", "enabled", "cache_root", "package_fingerprint"]

_package_fingerprint = None


def package_fingerprint():
    """Of adcompiler's own files (path, size, mtime): entries made by other code are never loaded
    (an upgrade, or an edit to the compiler while developing it)."""
    global _package_fingerprint
    if _package_fingerprint is None:
        parts = []
        stack = [os.path.dirname(os.path.abspath(__file__))]
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir() and e.name != "__pycache__":
                        stack.append(e.path)
                    elif e.name.endswith(".py"):
                        st = e.stat()
                        parts.append(f"{e.path}:{st.st_size}:{st.st_mtime_ns}")
        _package_fingerprint = hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()
    return _package_fingerprint


def enabled():
    return os.environ.get("ADCOMPILER_CACHE", "1") not in ("0", "false", "no", "off")


def cache_root():
    root = os.environ.get("ADCOMPILER_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "adcompiler")
    return root


class DiskStore:
    """Entries (a JSON metadata dict and a bytes payload) under cache_root()/`folder`."""

    def __init__(self, folder, magic, suffix):
        self.folder, self.magic, self.suffix = folder, magic, suffix
        self.stats = {"hits": 0, "misses": 0, "writes": 0, "rejected": 0}

    def directory(self):
        return os.path.join(cache_root(), self.folder)

    def path(self, key):
        return os.path.join(self.directory(), key[:2], key + self.suffix)

    def load(self, key):
        """(metadata dict, payload bytes) stored under `key`, or None."""
        if not enabled():
            return None
        try:
            with open(self.path(key), "rb") as f:
                data = f.read()
        except OSError:
            self.stats["misses"] += 1
            return None
        entry = self._parse(data, key)
        if entry is None:
            self.stats["rejected"] += 1
            return None
        self.stats["hits"] += 1
        return entry

    def _parse(self, data, key):
        if not data.startswith(self.magic):
            return None
        try:
            head_end = data.index(b"\n", len(self.magic))
            head = json.loads(data[len(self.magic):head_end])
            body = data[head_end + 1:]
            if head.get("key") != key or len(body) != head["size"] or \
                    hashlib.sha256(body).hexdigest() != head["sha256"]:
                return None
            meta = json.loads(body[:head["meta"]])
            return meta, body[head["meta"]:]
        except (ValueError, KeyError, TypeError):
            return None

    def store(self, key, meta, payload):
        """Write an entry atomically; any OS error (read-only directory ...) leaves it unwritten."""
        if not enabled():
            return False
        meta_bytes = json.dumps(meta).encode()
        body = meta_bytes + bytes(payload)
        head = json.dumps({"key": key, "size": len(body), "meta": len(meta_bytes),
                           "sha256": hashlib.sha256(body).hexdigest()}).encode()
        import tempfile
        path = self.path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(self.magic + head + b"\n" + body)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            return False
        self.stats["writes"] += 1
        return True
