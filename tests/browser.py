"""Pages in a real browser: Debian's chromium driven by playwright (it cannot download a browser
here), axe-core from axe-playwright-python. Without chromium or playwright a browser test fails:
it never skips.

``chromium`` is a module fixture (import it into a test module); :class:`Tab` is one person signed
in at one node, on a phone-sized screen, recording what the page's Content-Security-Policy blocked.
"""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import eventlet
import pytest

CHROMIUM = Path("/usr/bin/chromium")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}


_playwright = None


def _driver():
    """One playwright per process (a second one refuses to start in the same process), never
    stopped: in this eventlet-patched process its stop() waits forever for the driver to exit, which
    ends with the test process anyway (its stdin closes)."""
    global _playwright
    if _playwright is None:
        from playwright.sync_api import sync_playwright  # a test extra: missing, this is an error, not a skip
        _playwright = sync_playwright().start()
    return _playwright


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it when root)")
    browser = _driver().chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


def navigate(page, selector: str, timeout: float = 20.0) -> None:
    """Click what starts a navigation (a form's button, a link) and wait for the new page.

    The nodes under test serve from this same eventlet-patched process; playwright's own wait for
    the navigation a click starts can block without letting them answer, so the click does not
    wait and the new page is polled for with green sleeps in between."""
    page.evaluate("window.__rehsos_old_page = true")
    page.click(selector, no_wait_after=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        eventlet.sleep(0.05)
        try:
            if page.evaluate("window.__rehsos_old_page !== true && document.readyState === 'complete'"):
                return
        except Exception:  # noqa: BLE001 - the old page's context went away mid-check: poll again
            continue
    raise AssertionError(f"no new page after clicking {selector} within {timeout} s")


def serious(violations: list[dict]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in violations if v["impact"] in ("serious", "critical")]


class Tab:
    """A signed-in browser tab at one node."""

    def __init__(self, browser, province, node: str, role: str, viewport=PHONE):
        self.province, self.node = province, node
        self.context = browser.new_context(viewport=viewport) if viewport else browser.new_context()
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.page.on("console", lambda msg: self.blocked.append(msg.text)
                     if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        self.page.goto(province.url(node, "/masuk"))
        user, password = province.password(node, role)
        self.page.fill("#user", user)
        self.page.fill("#password", password)
        navigate(self.page, "form.card:has(#password) button[type=submit]")
        assert urlsplit(self.page.url).path == "/"

    def open(self, path: str):
        return self.page.goto(self.province.url(self.node, path))

    def text(self, selector: str = "main") -> str:
        return self.page.locator(selector).inner_text()

    def check(self, status: int = 200, response=None):
        """The page as every page must be: its status, Indonesian, one heading, no script, nothing
        blocked, axe clean, and nothing wider than a phone's screen but tables in their scroll box."""
        from axe_playwright_python.sync_playwright import Axe

        if response is not None:
            assert response.status == status
        assert self.page.locator("html").get_attribute("lang") == "id"
        assert self.page.locator("h1").count() == 1
        assert self.page.locator("script").count() == 0
        results = Axe().run(self.page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert serious(results.response["violations"]) == [], self.page.url
        assert self.blocked == []
        assert self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), self.page.url

    def close(self):
        self.context.close()
