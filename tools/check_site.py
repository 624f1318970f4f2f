"""Open the built documentation site in headless Chromium and fail on any error the browser sees.

CI runs this after ``mkdocs build --strict``: the strict build proves the Markdown and references
are sound; this proves the pages render in a real browser. For each page it checks that the page
loads over HTTP (served from the built folder on loopback), has the site's navigation and a
non-empty article heading, and that the browser reported nothing wrong: no console error, no
uncaught page error, no failed request, no HTTP status >= 400 for any resource.

It drives Debian's ``chromium`` (or ``--chromium PATH`` / ``$CHROMIUM``) with Playwright
(``pip install playwright``; Playwright's own browser downloads are not needed).

Run (from the repository root)::

    mkdocs build --strict
    python tools/check_site.py site --screenshots site-screenshots

Exit status 0 when every page is clean; 1 with a list of problems otherwise; 2 when Chromium or
Playwright is missing (the message says how to install them).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: The pages checked by default: the home page and one tutorial (paths relative to the site root).
DEFAULT_PAGES = ("", "tutorials/01-cross-validation/")
# Flags for a sandboxed, offline machine: without the background-networking ones Chromium keeps
# trying to reach Google's services, and those refused connections are not the site's fault.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class PageReport:
    """What the browser saw on one page."""

    url: str
    title: str = ""
    heading: str = ""
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable: ``explicit``, ``$CHROMIUM``, or ``chromium`` on the PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise FileNotFoundError(
        "Chromium not found: install Debian's package (`apt-get install -y chromium`) or pass "
        "--chromium PATH / set $CHROMIUM."
    )


def check_pages(
    site: Path,
    pages: Sequence[str] = DEFAULT_PAGES,
    *,
    chromium: str | None = None,
    screenshots: Path | None = None,
    timeout_ms: int = 30_000,
) -> list[PageReport]:
    """Load each page of the built ``site`` in headless Chromium and report what went wrong."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site}/index.html not found: build the site first (mkdocs build --strict).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ImportError("Playwright is needed: pip install playwright (no browser download).") from exc
    executable = find_chromium(chromium)
    reports = []
    with serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            for page_path in pages:
                reports.append(_check_page(browser, base + page_path, screenshots, timeout_ms))
        finally:
            browser.close()
    return reports


def _check_page(browser: object, url: str, screenshots: Path | None, timeout_ms: int) -> PageReport:
    report = PageReport(url)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and report.problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: report.problems.append(f"uncaught error: {e}"))
    page.on("requestfailed", lambda r: report.problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: r.status >= 400 and report.problems.append(f"HTTP {r.status}: {r.url}"),
    )
    try:
        response = page.goto(url, wait_until="networkidle", timeout=timeout_ms)
        if response is None or not response.ok:
            report.problems.append(f"page did not load: {response.status if response else 'no response'}")
        report.title = page.title()
        article = page.locator("article h1").first
        report.heading = article.inner_text(timeout=timeout_ms).strip(" ¶\n") if article.count() else ""
        if not report.heading:
            report.problems.append("no article heading (h1) rendered")
        if page.locator("nav.md-nav").count() == 0:
            report.problems.append("the site navigation did not render")
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            name = url.rstrip("/").rsplit("/", 1)[-1] if url.count("/") > 3 else "home"
            report.screenshot = screenshots / f"{name or 'home'}.png"
            page.screenshot(path=str(report.screenshot), full_page=False)
    finally:
        page.close()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site folder (mkdocs build's site/)")
    parser.add_argument("--pages", nargs="+", default=list(DEFAULT_PAGES), help="paths below the site root")
    parser.add_argument("--chromium", help="Chromium executable (default: $CHROMIUM or chromium on PATH)")
    parser.add_argument("--screenshots", type=Path, help="folder for a PNG of each page")
    args = parser.parse_args(argv)
    try:
        reports = check_pages(args.site, args.pages, chromium=args.chromium, screenshots=args.screenshots)
    except (ImportError, FileNotFoundError) as exc:
        print(f"check_site: {exc}", file=sys.stderr)
        return 2
    failed = False
    for r in reports:
        status = "FAIL" if r.problems else "ok"
        shot = f" -> {r.screenshot}" if r.screenshot else ""
        print(f"{status:4} {r.url}  title={r.title!r} h1={r.heading!r}{shot}")
        for problem in r.problems:
            print(f"     {problem}")
        failed |= bool(r.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
