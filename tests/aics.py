"""A witness that is not ours: the PyPI package `aics-witness` (and its `aics-tlog`), in a virtualenv of the project.

It needs Python 3.12 or later, which the project's own interpreter may not be, so it lives in
`.venv-witness/` at the project's root (git-ignored), made on first use from pyenv's 3.12 (or a
`python3.12` on PATH) and reused after. Nothing is installed outside the project. Without such an
interpreter the interop tests fail, saying how to get one: they are never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-witness"
PYTHON = VENV / "bin" / "python"
PACKAGE = "aics-witness==0.1.0"
"""The version read and tried; its defaults (no extension lines in checkpoints) are the point of the test."""


def interpreter() -> str:
    """A Python 3.12 or later to make the virtualenv with; the test fails (not skips) when there is none."""
    found = sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python"), reverse=True)
    candidates = [str(p) for p in found] + [w for w in (shutil.which("python3.12"), shutil.which("python3.13")) if w]
    if not candidates:
        pytest.fail(
            "the interoperability tests need Python >= 3.12 for aics-witness, and none was found: install one "
            "with pyenv (~/.pyenv/versions/3.12.x) or put python3.12 on PATH",
            pytrace=False,
        )
    return candidates[0]


def aics_python() -> Path:
    """The interpreter of `.venv-witness` with aics-witness installed (made once, then reused)."""
    if PYTHON.exists() and _has_package():
        return PYTHON
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([interpreter(), "-m", "venv", str(VENV)], check=True, timeout=120)  # noqa: S603  (our own venv)
    installed = subprocess.run(  # noqa: S603  (same)
        [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check", PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"could not install {PACKAGE} into {VENV}: {installed.stderr.strip()[-2000:]}", pytrace=False)
    return PYTHON


def _has_package() -> bool:
    done = subprocess.run([str(PYTHON), "-c", "import aics_witness"], capture_output=True, timeout=60, check=False)  # noqa: S603
    return done.returncode == 0


def aics_witness_command(*args: str) -> list[str]:
    """The `aics-witness` command line of the virtualenv."""
    return [str(VENV / "bin" / "aics-witness"), *args]


def run_script(script: str, data: dict[str, Any]) -> Any:
    """Run a Python script in the virtualenv with `data` as JSON on stdin; its JSON answer on stdout."""
    done = subprocess.run(  # noqa: S603  (our own script in our own venv)
        [str(aics_python()), "-c", script],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
