"""The evidence page as a judge's browser shows it: Debian's chromium, headless, loads it and we read its DOM.

The page must stand on its own (no network: chromium runs with every background fetch off) and
show the answer, every event of the timeline with both times, the late-recorded mark and the
verification section. Chromium is required: `.ci/run` installs it, and this test fails (never
skips) when it is missing.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from datetime import timedelta
from typing import TYPE_CHECKING

from test_evidence import PAPER, PAPER_SIGNED, PUBLIC, bundle_for, dispute

from audit.evidence_html import render

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "chromium is not installed: run `apt-get update && apt-get install -y chromium` (as .ci/run does)"
    return found


def browse(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = page.parent / "chromium-profile"
    return subprocess.run(  # noqa: S603  (Debian's chromium on our own temporary file)
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, f"file://{page}"],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_headless_browser_shows_the_answer_the_timeline_and_the_verification(
    ledger: ConsentLedger, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    dispute(ledger, clock)
    bundle = bundle_for(ledger, database, PAPER, PAPER_SIGNED + timedelta(days=1))
    page = tmp_path / "bundle.html"
    page.write_text(render(bundle))

    shown = browse(page, "--dump-dom")
    shot = browse(page, f"--screenshot={tmp_path / 'bundle.png'}", "--window-size=1200,1600")

    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = html.unescape(shown.stdout)
    assert '<section id="answer">' in shown.stdout
    assert bundle["answer"]["sentence"] in dom
    assert shown.stdout.count('class="event') == len(bundle["events"])
    assert 'class="event late"' in shown.stdout
    assert "recorded after T" in dom
    for event in bundle["events"]:
        assert event["occurred_at"] in dom
        assert event["recorded_at"] in dom
    assert '<section id="verification">' in shown.stdout
    assert PUBLIC in dom
    assert bundle["checkpoint"]["root"] in dom
    assert bundle["checkpoint"]["note"].splitlines()[0] in dom
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert (tmp_path / "bundle.png").stat().st_size > 10_000


def test_values_that_look_like_markup_are_shown_as_text_not_run(tmp_path: Path) -> None:
    hostile = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    bundle = {
        "subject_id": hostile, "at": "2026-03-05T00:00:00+00:00", "answer": {"sentence": hostile, "policies": []},
        "events": [
            {"kind": hostile, "position": 1, "occurred_at": hostile, "recorded_at": "x", "summary": {"a": hostile}},
        ],
        "checkpoint": {"note": hostile}, "public_key": hostile, "not_part_of_proof": {"label": hostile},
    }
    page = tmp_path / "bundle.html"
    page.write_text(render(bundle))

    shown = browse(page, "--dump-dom")

    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "<script>" not in shown.stdout
    assert "<img" not in shown.stdout
    assert "<title>pwned</title>" not in shown.stdout
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in shown.stdout
