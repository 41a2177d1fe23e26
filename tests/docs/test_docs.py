"""The docs stay true: every public name is in the API page, every relative
link resolves, every Python example in the guides runs, and every `adc`
command shown on a repository file still works."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import adcompiler
import adcompiler.autograd

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Python examples in these pages are run (the others belong to other pages' owners).
RUNNABLE = ["getting-started.md", "concepts.md", "compiler-tour.md", "api.md", "pytorch-compat.md", "native.md"]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _without_code(text):
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


@pytest.mark.parametrize("module", [adcompiler, adcompiler.autograd], ids=lambda m: m.__name__)
def test_every_public_name_is_in_the_api_page(module):
    api = (DOCS / "api.md").read_text()
    missing = [n for n in module.__all__ if f"`{n}`" not in api]
    assert not missing, f"add these {module.__name__} names to docs/api.md (as `name`): {missing}"


def _markdown_files():
    return sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(_without_code(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto:, in-page anchors
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.name}: broken relative links {broken}"


def _python_blocks():
    for name in RUNNABLE:
        text = (DOCS / name).read_text()
        for k, block in enumerate(re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)):
            yield pytest.param(block, id=f"{name}-{k}")


@pytest.mark.parametrize("code", list(_python_blocks()))
def test_python_examples_run(code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"example failed:\n{code}\n--- stderr:\n{r.stderr[-3000:]}"


def _adc_commands():
    """`$ adc ...` lines of console blocks that use a file of the repository, with the
    exit status the page implies (2 when the next line shows an error)."""
    for name in ["cli.md", "compiler-tour.md"]:
        for block in re.findall(r"^```console\n(.*?)^```", (DOCS / name).read_text(), re.S | re.M):
            lines = block.splitlines()
            for i, line in enumerate(lines):
                if not line.startswith("$ adc "):
                    continue
                argv = shlex.split(line[2:])
                files = [a.split("::")[0] for a in argv if "::" in a]
                if any(not (ROOT / f).exists() for f in files) or "--out" in argv:
                    continue
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                yield pytest.param(argv[1:], 2 if ": error:" in nxt else 0, id=f"{name}:{line[2:60]}")


@pytest.mark.parametrize("argv,status", list(_adc_commands()))
def test_adc_commands_shown_in_the_docs_work(argv, status):
    r = subprocess.run([sys.executable, "-m", "adcompiler", *argv], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == status, f"adc {' '.join(argv)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
