"""Open ``report.html`` in headless Chromium: check that every chart drew, and take a screenshot.

Used by the report's browser test and ``scripts/report_screenshot.py``. Drives the system's Chromium
(Debian's ``chromium`` package, or the binary in ``DAMOC_CHROMIUM``) through Playwright, which is a
development dependency imported only here. The page is loaded with every non-``file:`` request
refused, so a chart that needed a CDN or the network fails the check.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from damoc.errors import DamocError

CHROMIUM_ENV = "DAMOC_CHROMIUM"
INSTALL_HINT = (
    "install Chromium with `apt-get install -y chromium` (as root; `make setup` does it), "
    f"or set {CHROMIUM_ENV} to a Chromium or Chrome binary"
)
# every plotly chart: its <svg class="main-svg"> layers, drawn traces, and the text it shows
CHARTS_JS = """() => [...document.querySelectorAll('.plotly-graph-div')].map(d => ({
    id: d.id, main_svg: d.querySelectorAll('.main-svg').length, traces: d.querySelectorAll('.main-svg .trace').length,
    text: [...d.querySelectorAll('.main-svg text')].map(t => t.textContent).join(' ')
}))"""
DRAWN_JS = "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg .trace'))"


@dataclass
class PageCheck:
    """What the browser saw: the charts, console errors, uncaught exceptions and refused requests."""

    charts: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    title: str = ""


def find_chromium() -> Path:
    """The Chromium binary: ``$DAMOC_CHROMIUM``, else ``chromium`` (or ``chromium-browser``) on PATH.

    Raises:
        DamocError: none is found; the message says how to install one.
    """
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        if not (Path(override).is_file() and os.access(override, os.X_OK)):
            raise DamocError(f"{CHROMIUM_ENV}={override} is not an executable file; {INSTALL_HINT}")
        return Path(override)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise DamocError(f"no `chromium` on PATH: {INSTALL_HINT}")


def open_report(
    page_path: Path, screenshot: Path, width: int = 1200, height: int | None = None, timeout_s: float = 60.0
) -> PageCheck:
    """Load ``page_path`` offline in headless Chromium, wait for every chart, save a PNG of the page.

    The PNG is ``width`` pixels wide and holds the whole page, or its top ``height`` pixels.

    Raises:
        DamocError: Chromium is missing, or the charts did not all draw within ``timeout_s``.
    """
    from playwright.sync_api import Error, FloatRect, sync_playwright

    check = PageCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(find_chromium()), args=["--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: check.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: check.page_errors.append(str(e)))
            page.route("**/*", lambda route: _allow_files_only(route, check))
            page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
            try:
                page.wait_for_function(DRAWN_JS, timeout=timeout_s * 1000)
            except Error as exc:
                raise DamocError(f"{page_path}: the charts did not all draw within {timeout_s:g} s ({exc})") from None
            check.charts = page.evaluate(CHARTS_JS)
            check.title = page.title()
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            clip = FloatRect(x=0, y=0, width=width, height=height) if height else None
            page.screenshot(path=str(screenshot), full_page=True, clip=clip)
        finally:
            browser.close()
    return check


def _allow_files_only(route: Any, check: PageCheck) -> None:
    """Serve ``file:`` URLs; refuse and record anything else (the report must work offline)."""
    url = route.request.url
    if url.startswith(("file:", "data:", "blob:", "about:")):
        route.continue_()
    else:
        check.blocked_requests.append(url)
        route.abort()
