"""The report opens offline: headless Chromium, with every host name unresolvable, draws each
chart of a real run's page and takes a screenshot. Skipped where Chromium is not installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from research import report
from tests.research.conftest import charts

pytestmark = pytest.mark.integration

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing can be fetched
    "--virtual-time-budget=15000",
    "--window-size=1300,4200",
]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *OFFLINE, *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (no chromium on PATH): the offline rendering test needs a "
    "headless browser (apt-get install chromium)",
)
def test_the_page_draws_every_chart_offline_and_screenshots(short_runs, tmp_path):
    out = tmp_path / "report.html"
    assert report.main([str(short_runs.folders["stressed"]), "--out", str(out)]) == 0
    expected = len(charts(out.read_text()))
    assert expected == 6

    dom = _chromium("--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="plot-container plotly"') == expected  # each chart drawn by plotly.js
    assert dom.stdout.count('class="main-svg"') >= expected

    png = tmp_path / "report.png"
    shot = _chromium(f"--screenshot={png}", out.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = Path(png).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000  # drawn, not a blank page
