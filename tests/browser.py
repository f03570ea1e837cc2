"""The browser every browser test drives: Debian's chromium, unpacked into `.cache/browser/` of this checkout.

A test run must leave the machine as it found it, so nothing is installed: the first test that
needs the browser downloads the `chromium` package and whichever of its libraries the host lacks
with `apt-get download` (package lists kept in the cache too, never in /var/lib/apt), unpacks them
with `dpkg -x`, and writes `.cache/browser/chromium`, a launcher that points the dynamic loader
at the unpacked libraries. Later runs reuse it. A fetch that fails fails the test with what to do
(a browser test never skips). `python tests/browser.py` fetches it ahead of the tests.

Tests drive it with Playwright (`launched()`), whose wheel carries its own driver: Playwright's
own browser download is never used (it comes from a CDN this machine cannot reach).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Playwright

CACHE = Path(os.environ.get("CONSENT_LEDGER_BROWSER_CACHE", Path(__file__).resolve().parent.parent / ".cache/browser"))
LAUNCHER = CACHE / "chromium"
"""A shell script that runs the unpacked chromium with its libraries; what the tests (and `serve`) launch."""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless, and nothing fetched in the background: the pages under test are the only traffic."""

WANTED = ("chromium", "chromium-common")
"""Downloaded always; their dependencies only where the host lacks them."""


class BrowserUnavailable(AssertionError):
    """The browser could not be fetched; the message says what failed and how to fetch it by hand."""


def chromium() -> Path:
    """The launcher of the cached chromium, fetched first if it is not there (or no longer starts)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes starting at once fetch it once
        if not _starts():
            _fetch()
            if not _starts():
                raise BrowserUnavailable(f"chromium was unpacked into {CACHE} but does not start: {_version()}")
    return LAUNCHER


@contextlib.contextmanager
def launched(playwright: Playwright) -> Iterator[Browser]:
    """The cached chromium, headless, under Playwright; closed afterwards."""
    browser = playwright.chromium.launch(executable_path=str(chromium()), args=FLAGS, headless=True, timeout=60_000)
    try:
        yield browser
    finally:
        browser.close()


def _starts() -> bool:
    return LAUNCHER.exists() and _version().startswith("Chromium")


def _version() -> str:
    try:
        done = subprocess.run([str(LAUNCHER), "--version"], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    except OSError as e:
        return str(e)
    return (done.stdout or done.stderr).strip()


def _fetch() -> None:
    """Download chromium and the libraries the host lacks, unpack them, write the launcher."""
    apt = CACHE / "apt"
    for folder in (apt / "lists/partial", apt / "cache/archives/partial", CACHE / "debs"):
        folder.mkdir(parents=True, exist_ok=True)
    options = ["-q", "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", f"Dir::Cache={apt / 'cache'}"]
    _run(["apt-get", *options, "update"], "read Debian's package lists")
    simulated = _run(["apt-get", *options, "-s", "install", "--no-install-recommends", *WANTED], "resolve chromium")
    missing = [line.split()[1] for line in simulated.splitlines() if line.startswith("Inst ")]
    packages = sorted(set(missing) | set(WANTED))
    _run(["apt-get", *options, "download", *packages], "download chromium", cwd=CACHE / "debs")
    root = CACHE / "root"
    shutil.rmtree(root, ignore_errors=True)
    for deb in sorted((CACHE / "debs").glob("*.deb")):
        _run(["dpkg", "-x", str(deb), str(root)], f"unpack {deb.name}")
    libraries = sorted({str(p.parent) for p in root.rglob("*.so*") if p.is_file()})
    LAUNCHER.write_text(
        "#!/bin/sh\n# Debian's chromium, unpacked by tests/browser.py; its libraries come from beside it.\n"
        f"export LD_LIBRARY_PATH='{':'.join(libraries)}'${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n"
        f"exec '{root}/usr/lib/chromium/chromium' \"$@\"\n"
    )
    LAUNCHER.chmod(0o755)
    shutil.rmtree(CACHE / "debs")  # what is unpacked is all the tests need
    shutil.rmtree(apt)


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=cwd)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as e:
        done = subprocess.CompletedProcess(command, 1, "", str(e))
    if done.returncode != 0:
        raise BrowserUnavailable(
            f"could not {what} for the browser tests ({' '.join(command[:2])}… exited {done.returncode}): "
            f"{done.stderr.strip()[-1500:]}\nThe tests fetch Debian's chromium into {CACHE} with apt-get download "
            "and dpkg -x (a Debian mirror must answer); run "
            "`python tests/browser.py` to try again and see each step."
        )
    return done.stdout


if __name__ == "__main__":
    print(chromium(), _version())  # noqa: T201  (run by hand or by .ci/run, to fetch before the tests)
    sys.exit(0)
