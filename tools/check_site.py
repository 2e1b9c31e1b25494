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
- MathJax did not load, or a formula did not typeset;
- **a figure is shrunk below a legible size**: the course's figures use no text smaller than
  8 pt (matplotlib's legends at ``fontsize=8``; its default is 10 pt) at the resolution written
  in the PNG (its pHYs chunk: 100 dpi for the notebooks' figures; 72 dpi when it has none). Shown
  at ``scale = rendered width / natural width``, that text is ``8 pt × dpi / 72 × scale`` pixels
  tall, and a page fails when this is below ``MIN_TEXT_PX`` = 7 px (for a 100-dpi figure: shown at
  less than 63 % of its natural width);
- **content is wider than the page without a scroll bar**: an element of the page's ``<main>``
  (a table, a text output, a display equation, a paragraph) whose content is wider than its box
  and spills out (``overflow-x: visible``) or is cut off (``hidden``), or that scrolls sideways
  but draws no scroll bar a reader can see (at least 6 px tall), or whose box runs past the edge
  of the window; and a page that scrolls sideways as a whole. Only the innermost such element is
  reported, and nothing inside an element that scrolls;
- **LaTeX is left unrendered**: after MathJax has run, the text of the page outside code
  (``code``, ``pre``, scripts, typeset formulas) still holds ``$``, ``\\(``, ``\\)``, ``\\[``,
  ``\\]`` or a TeX command such as ``\\begin`` or ``\\frac`` (a literal dollar sign in prose
  belongs in code).

The window is 1200 × 1600 CSS pixels, with overlay scroll bars (as macOS and phones draw them, taking
no room until one scrolls), so only a scroll bar the site's style draws counts as visible. Before the site, the
detectors run on small pages with planted defects (``SELF_TEST``) and the check fails if one of
them misses its defect or reports one on the clean page, so a detector that stopped working
cannot pass the site.

Links to other hosts (GitHub, Colab) are counted, not followed: the check needs no network.
The last line reads ``site-check: N passed, M failed``, N and M counted in pages.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in the page once it has loaded (and MathJax has typeset): its images, links, anchors,
# whether MathJax typeset, the boxes whose content is wider than they are, and the text outside
# code. The decisions are made in Python (image_problems, overflow_problems, latex_problems).
_INSPECT = """
const done = arguments[arguments.length - 1];
const FIGURES = '.output_png, .output_jpeg, .output_svg, p.figure';
const MATH = '.MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_SVG, .MathJax_CHTML, mjx-container, script';
function boxes() {
  const main = document.querySelector('main') || document.body;
  const viewport = document.documentElement.clientWidth;
  // A figure may use the window's width (the site's style): check that it stays inside the window,
  // then measure everything else with the figures held to the column.
  const figures = Array.from(main.querySelectorAll(FIGURES));
  const found = [];
  for (const el of figures) {
    const rect = el.getBoundingClientRect();
    if (rect.left < -1 || rect.right > viewport + 1) found.push(record(el, viewport, false));
  }
  figures.forEach(el => { el.style.marginLeft = '0px'; el.style.marginRight = '0px'; });
  const spills = [], past = [];
  for (const el of main.querySelectorAll('*')) {
    if (el.closest('.MathJax, .MathJax_SVG, .MathJax_CHTML, mjx-container') || el.clientWidth === 0) continue;
    // inside an element that scrolls sideways (or cuts), the outer element is the one to judge
    let outer = el.parentElement, inside = false;
    for (; outer && outer !== main; outer = outer.parentElement) {
      if (getComputedStyle(outer).overflowX !== 'visible') { inside = true; break; }
    }
    if (inside) continue;
    if (el.scrollWidth > el.clientWidth + 2) spills.push(el);
    else if (el.getBoundingClientRect().right > viewport + 1) past.push(el);
  }
  // content wider than its box: the innermost such box; a box past the window's edge: the outermost
  found.push(...spills.filter(a => !spills.some(b => b !== a && a.contains(b))).map(el => record(el, viewport, true)));
  found.push(...past.filter(a => !past.some(b => b !== a && b.contains(a))).map(el => record(el, viewport, true)));
  figures.forEach(el => { el.style.marginLeft = ''; el.style.marginRight = ''; });
  return found;
}
function record(el, viewport) {
  const style = getComputedStyle(el);
  const borders = parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
  return {tag: el.tagName.toLowerCase(), classes: typeof el.className === 'string' ? el.className : '',
          text: el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 70), scroll_width: el.scrollWidth,
          client_width: el.clientWidth, overflow_x: style.overflowX, scrollbar: el.offsetHeight - el.clientHeight - borders,
          left: el.getBoundingClientRect().left, right: el.getBoundingClientRect().right, viewport: viewport};
}
function texts() {
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('code, pre, kbd, samp, style, textarea, .highlight, .input_area, ' + MATH)) continue;
    if (/[$\\\\]/.test(node.textContent)) found.push(node.textContent.replace(/\\s+/g, ' ').trim());
  }
  return found;
}
const report = () => done(JSON.stringify({
  title: document.title,
  images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, complete: i.complete,
    natural_width: i.naturalWidth, natural_height: i.naturalHeight, rendered_width: i.getBoundingClientRect().width})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.name),
  mathjax: typeof MathJax !== 'undefined' && !!MathJax.Hub,
  math_errors: Array.from(document.querySelectorAll('.MathJax_Error, .noError, merror, .merror'))
    .map(e => e.textContent.slice(0, 80)),
  formulas: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_SVG').length,
  boxes: boxes(),
  page_width: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  texts: texts(),
}));
if (typeof MathJax !== 'undefined' && MathJax.Hub) { MathJax.Hub.Queue(report); } else { report(); }
"""

# --- the detectors: decisions on what the page reported ----------------------------------

MIN_TEXT_PX = 7.0       # the smallest legible height of a figure's text on the page, CSS pixels
FIGURE_TEXT_PT = 8.0    # the smallest text the course's figures use, points
MIN_SCROLLBAR_PX = 6.0  # a scroll bar thinner than this is not seen by a reader
_LATEX = re.compile(r"\$|\\[()\[\]]|\\(?:begin|end)\b|\\[A-Za-z]{2,}")


def png_dpi(data: bytes) -> float | None:
    """The resolution a PNG declares (its pHYs chunk, in dots per inch), or None (PNG spec §11.3.5.3)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"pHYs" and length == 9:
            x_per_unit, _, unit = struct.unpack(">IIB", data[position + 8:position + 17])
            return x_per_unit * 0.0254 if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):
            return None
        position += 12 + length
    return None


def smallest_text_px(natural_width: float, rendered_width: float, dpi: float | None) -> float:
    """How tall, in CSS pixels, a figure's smallest text (FIGURE_TEXT_PT) is as the page shows it."""
    return FIGURE_TEXT_PT * (dpi or 72.0) / 72.0 * rendered_width / natural_width


def image_problems(images: list[dict], dpi_of=lambda src: None) -> list[str]:
    """Images not shown, or shown so small that their text is below MIN_TEXT_PX.

    ``images``: what the page reported, ``{"src", "complete", "natural_width", "rendered_width"}``
    each; ``dpi_of(src)``: the image's resolution (``png_dpi`` of its bytes) or None."""
    problems = []
    for image in images:
        src, natural, rendered = image["src"], image["natural_width"], image["rendered_width"]
        if not image["complete"] or natural == 0:
            problems.append(f"image {src} not shown (loaded: {image['complete']}, natural width {natural})")
            continue
        if rendered == 0 or rendered >= natural:
            continue
        dpi = dpi_of(src)
        text = smallest_text_px(natural, rendered, dpi)
        if text < MIN_TEXT_PX:
            problems.append(
                f"image {src} shrunk to {rendered:.0f} of its {natural} px ({rendered / natural:.0%}): its "
                f"{FIGURE_TEXT_PT:g}-pt text ({dpi or 72:.0f} dpi) is {text:.1f} px tall on the page, below {MIN_TEXT_PX:g} px")
    return problems


def overflow_problems(boxes: list[dict], page_width: tuple[float, float] = (0, 0)) -> list[str]:
    """Content wider than the page without a scroll bar, from the boxes the page reported (the
    innermost elements whose content is wider than their box or whose box runs past the window):
    ``{"tag", "classes", "text", "scroll_width", "client_width", "overflow_x", "scrollbar", "right",
    "left", "viewport"}`` each; ``page_width``: the document's (scroll width, client width)."""
    problems = []
    for box in boxes:
        name = box["tag"] + "".join("." + c for c in str(box.get("classes") or "").split())
        what = f"{name} ({box['text'][:50]!r})"
        wider = box["scroll_width"] > box["client_width"] + 2
        by = f"{box['scroll_width']:.0f} px of content in a {box['client_width']:.0f}-px box"
        if wider and box["overflow_x"] == "visible":
            problems.append(f"{what} is wider than its box and spills out without a scroll bar: {by}")
        elif wider and box["overflow_x"] in ("hidden", "clip"):
            problems.append(f"{what} is wider than its box and cut off: {by}")
        elif wider and box["scrollbar"] < MIN_SCROLLBAR_PX:
            problems.append(f"{what} scrolls sideways but shows no scroll bar ({box['scrollbar']:.0f} px): {by}")
        elif box["right"] > box["viewport"] + 1 or box.get("left", 0) < -1:
            problems.append(f"{what} runs past the edge of the window (from {box.get('left', 0):.0f} to "
                            f"{box['right']:.0f} px in a {box['viewport']:.0f}-px window)")
    scroll_width, client_width = page_width
    if scroll_width > client_width + 1:
        problems.append(f"the page scrolls sideways: {scroll_width:.0f} px wide in a {client_width:.0f}-px window")
    return problems


def latex_problems(texts: list[str]) -> list[str]:
    """TeX left in the rendered text outside code: a ``$``, ``\\(``, ``\\[`` or a command."""
    problems = []
    for text in texts:
        matches = list(_LATEX.finditer(text))
        if matches:
            tokens = list(dict.fromkeys(match.group(0) for match in matches))   # distinct, in order
            start = max(0, matches[0].start() - 30)
            more = f" and {len(tokens) - 4} more" if len(tokens) > 4 else ""
            problems.append(f"unrendered LaTeX {', '.join(map(repr, tokens[:4]))}{more} in "
                            f"{text[start:matches[0].end() + 60]!r}")
    return problems


def inspect(driver) -> dict:
    """What _INSPECT reports about the page open in ``driver`` (sent as JSON: a DOM value cannot cross)."""
    return json.loads(driver.execute_async_script(_INSPECT))


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
    # Scroll bars as many readers see them: overlay bars that take no room and show only while
    # scrolling (macOS, phones), so a wide box whose bar is not forced by the site's style
    # measures a 0-px bar and fails the overflow check.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--enable-features=OverlayScrollbar"):
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

    @functools.cache
    def dpi_of(src):
        if not src.startswith(base):
            return None
        try:
            with urllib.request.urlopen(src, timeout=30) as response:
                return png_dpi(response.read())
        except urllib.error.URLError:
            return None

    try:
        while queue:
            url = queue.pop(0)
            name = url[len(base):]
            problems = pages.setdefault(name, [])
            before = len(failed_requests)
            driver.get(url)
            found = inspect(driver)
            problems += [f"request of {path} answered {code}" for code, path in failed_requests[before:]]
            problems += [f"browser error: {entry['message']}" for entry in driver.get_log("browser")
                         if entry["level"] == "SEVERE"]
            if not found["title"]:
                problems.append("no <title>")
            counts["images"] += len(found["images"])
            problems += image_problems(found["images"], dpi_of)
            problems += overflow_problems(found["boxes"], found["page_width"])
            problems += latex_problems(found["texts"])
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


# --- the detectors' self-test: pages with planted defects -----------------------------------

def _png(width: int, height: int, dpi: float = 100.0) -> bytes:
    """A grey PNG of the given size that declares ``dpi`` (PNG spec, sections 5, 11.2 and 11.3.5.3)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    per_metre = round(dpi / 0.0254)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


_LONG_EQUATION = " + ".join(rf"\frac{{\alpha_{{{i}}}}}{{\beta_{{{i}}} + \gamma_{{{i}}}}}" for i in range(40))
_LONG_LINE = "|".join(f" column {i:2d} " for i in range(60))
_WIDE_TABLE = ("<table><tr>" + "".join(f"<th>column {i}</th>" for i in range(40)) + "</tr><tr>"
               + "".join(f"<td>{i}</td>" for i in range(40)) + "</tr></table>")

# page: (body, the problems the detectors must report there, each as a regular expression)
SELF_TEST = {
    "clean.html": (
        f"""<h1>A page with wide content the site's style handles</h1>
<p>Inline math $x^2 + \\frac{{1}}{{2}}$, a dollar in code <code>$HOME</code> and <code>\\(x\\)</code>.</p>
$${_LONG_EQUATION}$$
<div class="output_area"><div class="output_png output_subarea"><img src="wide.png" alt="a wide figure"></div></div>
<p class="figure"><img src="wide.png" alt="a wide figure of a Markdown page"></p>
{_WIDE_TABLE}
<div class="output_area"><div class="output_subarea output_stream output_stdout output_text"><pre>{_LONG_LINE}</pre></div></div>
""", []),
    "defects.html": (
        f"""<h1>A page with one defect of each kind</h1>
<style>.no-bar::-webkit-scrollbar {{ display: none; }} .plain .MathJax_Display {{ overflow: visible !important; }}</style>
<img src="huge.png" alt="a figure shrunk to the column">
<table style="display: table; overflow: visible">{_WIDE_TABLE[7:-8]}</table>
<pre style="overflow-x: hidden">{_LONG_LINE}</pre>
<pre class="no-bar" style="overflow-x: auto">{_LONG_LINE}</pre>
<p>Left raw: \\frac{{1}}{{2}} outside a formula.</p>
<p>A lone $ sign.</p>
<div class="plain">$${_LONG_EQUATION}$$</div>
""", [r"image .*huge\.png shrunk", r"^table .*runs past the edge", r"^pre .*cut off", r"^pre\.no-bar .*no scroll bar",
      r"unrendered LaTeX '\\\\frac'", r"unrendered LaTeX '\$'", r"MathJax_Display .*spills out"]),
}


def self_test(driver, site: Path) -> list[str]:
    """Run the detectors on the SELF_TEST pages, served with ``site``'s style sheet and MathJax;
    returns what went wrong (a planted defect missed, or a problem reported on the clean page)."""
    import tempfile

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tools import build_site

    failures = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name in ("style.css", "pygments.css", "mathjax"):
            (folder / name).symlink_to((site / name).resolve())
        (folder / "wide.png").write_bytes(_png(1600, 300))
        (folder / "huge.png").write_bytes(_png(2400, 300))
        for name, (body, _) in SELF_TEST.items():
            (folder / name).write_text(build_site.page(f"site-check self-test: {name}", body, "", "self-test"))
        server, _ = serve(folder)
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            for name, (_, expected) in SELF_TEST.items():
                driver.get(base + name)
                found = inspect(driver)
                dpi = {base + "wide.png": 100.0, base + "huge.png": 100.0}
                problems = (image_problems(found["images"], dpi.get)
                            + overflow_problems(found["boxes"], found["page_width"]) + latex_problems(found["texts"]))
                if not found["formulas"]:
                    failures.append(f"{name}: MathJax typeset nothing")
                if not expected:
                    failures += [f"{name}: reported on the clean page: {problem}" for problem in problems]
                for pattern in expected:
                    if not any(re.search(pattern, problem) for problem in problems):
                        failures.append(f"{name}: no problem matches {pattern!r} (reported: {problems})")
        finally:
            server.shutdown()
            server.server_close()
    return failures


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
    if not (args.site / "index.html").exists():
        raise SystemExit(f"{args.site / 'index.html'} does not exist: build the site first (`make site`)")
    driver = chromium()
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        failures = self_test(driver, args.site)
    finally:
        driver.quit()
    for failure in failures:
        print(f"SELF-TEST FAILED {failure}")
    if failures:
        print("site-check: the detectors failed their self-test; the site was not checked")
        return 1
    print(f"the detectors found every planted defect and none on the clean page ({len(SELF_TEST)} test pages)")
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
