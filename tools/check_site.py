"""Check the built course site in a real browser: every page loads, every image shows, no link
is broken.

    python tools/check_site.py                     # what `make site-check` runs, after `make site`
    python tools/check_site.py --screenshots DIR   # and save screenshots of two pages

The site is served from 127.0.0.1 by a server started here and stopped at the end; headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by selenium) opens
``index.html`` and then every page reached by a link, and fails a page when

- the server answered a request of it (the page, a stylesheet, a script, an image, a font)
  with an error, or the browser logged an error;
- an <img> is not loaded or has a natural width of 0;
- a link of the site leads to a page or a file that does not exist, or to an #anchor that is
  not on its page;
- MathJax did not load, or a formula did not typeset.

Links to other hosts (GitHub, Colab) are counted, not followed: the check needs no network.
The last line reads ``site-check: N passed, M failed``, N and M counted in pages.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in the page once it has loaded: its images, links, anchors, and whether MathJax typeset.
_INSPECT = """
const done = arguments[arguments.length - 1];
const report = () => done({
  title: document.title,
  images: Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth]),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.name),
  mathjax: typeof MathJax !== 'undefined' && !!MathJax.Hub,
  math_errors: Array.from(document.querySelectorAll('.MathJax_Error, .noError, merror, .merror'))
    .map(e => e.textContent.slice(0, 80)),
  formulas: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_SVG').length,
});
if (typeof MathJax !== 'undefined' && MathJax.Hub) { MathJax.Hub.Queue(report); } else { report(); }
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site and remembers every request it answered with an error."""

    errors: list[tuple[int, str]]

    def log_message(self, format, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        self.errors.append((code, urllib.parse.unquote(self.path)))
        super().send_error(code, message, explain)


def serve(site: Path):
    """A threaded HTTP server of ``site`` on 127.0.0.1 (a free port), started; returns it and the
    list it appends failed requests to."""
    errors: list[tuple[int, str]] = []
    handler = functools.partial(type("Handler", (_QuietHandler,), {"errors": errors}), directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, errors


def chromium(width: int = 1200, height: int = 1600):
    """Headless Chromium from the system's packages, driven through its chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise SystemExit("site-check needs chromium and chromedriver: apt-get install chromium chromium-driver "
                         "(`make site-check` installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def check(site: Path, screenshots: Path | None = None, screenshot_pages=("index.html",), log=print) -> dict:
    """Open every page of ``site`` reachable from index.html; returns
    ``{"pages": {url: [problems]}, "images": n, "links": n, "external": n}``."""
    if not (site / "index.html").exists():
        raise SystemExit(f"{site / 'index.html'} does not exist: build the site first (`make site`)")
    server, failed_requests = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = chromium()
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    pages: dict[str, list[str]] = {}
    anchors: list[tuple[str, str, str]] = []  # (page linking, page linked, #anchor)
    ids: dict[str, set[str]] = {}
    queue, seen = [base + "index.html"], {base + "index.html"}
    counts = {"images": 0, "links": 0, "external": 0, "formulas": 0}
    try:
        while queue:
            url = queue.pop(0)
            name = url[len(base):]
            problems = pages.setdefault(name, [])
            before = len(failed_requests)
            driver.get(url)
            found = driver.execute_async_script(_INSPECT)
            problems += [f"request of {path} answered {code}" for code, path in failed_requests[before:]]
            problems += [f"browser error: {entry['message']}" for entry in driver.get_log("browser")
                         if entry["level"] == "SEVERE"]
            if not found["title"]:
                problems.append("no <title>")
            for src, complete, width in found["images"]:
                counts["images"] += 1
                if not complete or width == 0:
                    problems.append(f"image {src} not shown (loaded: {complete}, natural width {width})")
            if not found["mathjax"]:
                problems.append("MathJax did not load")
            problems += [f"formula not typeset: {text!r}" for text in found["math_errors"]]
            counts["formulas"] += found["formulas"]
            ids[name] = set(found["ids"])
            for link in found["links"]:
                counts["links"] += 1
                if not link.startswith(base):
                    counts["external"] += 1
                    continue
                target, _, fragment = link.partition("#")
                if fragment:
                    anchors.append((name, target[len(base):], fragment))
                if target in seen:
                    continue
                seen.add(target)
                if target.endswith((".html", "/")):
                    queue.append(target)
                else:
                    problems += _fetch_problems(target)
            if screenshots is not None and name in screenshot_pages:
                _screenshots(driver, screenshots, name)
            log(f"  {name}: {len(found['images'])} images, {len(found['links'])} links, "
                f"{found['formulas']} formulas, {'ok' if not problems else f'{len(problems)} problems'}")
        for source, target, fragment in anchors:
            # as a browser does: the fragment as written, else percent-decoded (HTML, "the indicated part")
            if target in ids and not {fragment, urllib.parse.unquote(fragment)} & ids[target]:
                pages[source].append(f"link to {target}#{urllib.parse.unquote(fragment)}: no such anchor")
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    return {"pages": pages, **counts}


def _fetch_problems(url: str) -> list[str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return [] if response.status == 200 else [f"link to {url} answered {response.status}"]
    except urllib.error.HTTPError as error:
        return [f"link to {url} answered {error.code}"]


def _screenshots(driver, folder: Path, name: str):
    """The top of the page, and the first figure of the page, if it has one."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_").removesuffix(".html")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(folder / f"{stem}.png"))
    if driver.execute_script(
            "const i = document.querySelector('main img'); if (!i) return false;"
            "i.scrollIntoView({block: 'center'}); return true;"):
        driver.save_screenshot(str(folder / f"{stem}_figure.png"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument("--screenshots", type=Path, help="save screenshots of --pages in this folder")
    parser.add_argument("--pages", nargs="+", default=["index.html", "06_beta_tcvae.html"],
                        help="the pages to screenshot (default: index.html 06_beta_tcvae.html)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"checking {args.site} in headless Chromium")
    result = check(args.site, args.screenshots, tuple(args.pages))
    failed = {page: problems for page, problems in result["pages"].items() if problems}
    for page, problems in failed.items():
        for problem in problems:
            print(f"FAILED {page}: {problem}")
    print(f"{len(result['pages'])} pages, {result['images']} images, {result['formulas']} formulas, "
          f"{result['links']} links ({result['external']} to other hosts, not followed) "
          f"checked in {time.perf_counter() - start:.0f} s")
    print(f"site-check: {len(result['pages']) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
