"""Build the course as a static web site: every chapter executed in fast mode, rendered to HTML.

    python tools/build_site.py             # what `make site` runs; writes site/index.html

A student on GitHub sees the notebooks without outputs (they are committed stripped); the site
shows them executed, with every figure. It holds

- ``index.html``: notebooks/README.md (the course map and the teacher's page), whose chapter
  links lead to the chapter pages;
- one page per chapter, ``NN_topic.html``: the notebook executed with ``REFVAE_FAST=1`` by a
  kernel of the Python running this script, its figures written beside it in
  ``NN_topic_files/``, with links to the previous and the next page and to the course map;
- one page per solutions notebook, ``NN_topic_solutions.html``: ``notebooks/solutions/
  NN_topic_solutions.ipynb`` executed the same way, linked from its chapter's page (after the
  exercises) and from the index;
- ``notation.html``: notebooks/notation.md, the course's notation, linked from the header of
  every page;
- ``results.html``: RESULTS.md, with its figures copied from experiments/results/;
- ``api.html``: the API reference, every public module, class and function of the package
  with its signature (type hints included) and docstring, as ``pydoc`` shows them, linked from
  the header of every page.

Links between pages are rewritten (``05_tc_estimators.ipynb`` becomes ``05_tc_estimators.html``,
``../RESULTS.md`` becomes ``results.html``); a link to any other file of the repository points
at the file on GitHub, and a link to a file that does not exist stops the build. Images from
other hosts (the Colab badges) are shown as their text, so every image of the site is a file of
the site. Math is typeset by the MathJax 2 of the ``jupyter-server-mathjax`` package (with the
STIX-Web fonts it ships), copied into ``site/mathjax/``, so the site needs no network.

Wide content never runs off the page: a table, a text output and a display equation wider
than the column scroll sideways with a visible scroll bar, and a figure may use the width of
the window, not only that of the text column (`make site-check` fails a page where this does
not hold, or where a figure is shrunk below a legible size).

Executed notebooks are cached in ``build/site-cache/`` under a hash of the notebook, of the
package's sources (``refvae/``) and of the mode: a rebuild executes only the chapters whose
notebook, or whose library, changed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import html
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_URL = "https://github.com/refvae/refvae"
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "site-cache"
LIBRARY = ROOT / "refvae"
CACHE_VERSION = "1"  # bump when the form of a cached executed notebook changes

_MAP_ROW = re.compile(r"^\|\s*(\d\d)\s*\|(.*)$")
_CHAPTER_LINK = re.compile(r"\[([^\]]+)\]\((\d\d_[\w-]+\.ipynb)\)")
_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')
_IMG = re.compile(r"<img\b[^>]*>")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One row of the course map: ``Chapter("04", "ELBO surgery", "04_elbo_surgery.ipynb")``."""

    number: str
    title: str
    notebook: str

    @property
    def page(self) -> str:
        return self.notebook[: -len(".ipynb")] + ".html"

    @property
    def label(self) -> str:
        return f"{self.number} · {self.title}"


def course_map(readme_text: str) -> list[Chapter]:
    """The chapters of the course map, the table of notebooks/README.md, in its order.

    A row is a table line whose first cell is a two-digit chapter number; its chapter cell
    holds a link ``[title](NN_topic.ipynb)``.
    """
    chapters = []
    for line in readme_text.splitlines():
        row = _MAP_ROW.match(line.strip())
        if not row:
            continue
        link = _CHAPTER_LINK.search(row.group(2))
        if link is None:
            raise ValueError(f"course map row {row.group(1)} has no link [title](NN_topic.ipynb): {line!r}")
        title, notebook = link.groups()
        if not notebook.startswith(row.group(1) + "_"):
            raise ValueError(f"course map row {row.group(1)} links {notebook}, another chapter's notebook")
        chapters.append(Chapter(row.group(1), title, notebook))
    if not chapters:
        raise ValueError("readme_text has no course map: expected table rows '| NN | [title](NN_topic.ipynb) | ...'")
    return chapters


def course_solutions(notebooks_dir: Path, chapters: list[Chapter]) -> dict[str, Path]:
    """``{chapter number: solutions notebook}`` for the chapters that have one, in
    ``notebooks_dir/solutions/NN_topic_solutions.ipynb``."""
    found = {}
    for chapter in chapters:
        path = notebooks_dir / "solutions" / (chapter.notebook[: -len(".ipynb")] + "_solutions.ipynb")
        if path.exists():
            found[chapter.number] = path
    return found


def solutions_page(chapter: Chapter) -> str:
    """The site page of ``chapter``'s solutions: ``04_elbo_surgery_solutions.html``."""
    return chapter.page[: -len(".html")] + "_solutions.html"


def course_chapters(notebooks_dir: Path) -> list[Chapter]:
    """The course map of ``notebooks_dir/README.md``, checked against the notebooks present."""
    chapters = course_map((notebooks_dir / "README.md").read_text())
    mapped = {chapter.notebook for chapter in chapters}
    present = {path.name for path in notebooks_dir.glob("[0-9][0-9]_*.ipynb")}
    if mapped != present:
        raise ValueError(
            f"the course map of {notebooks_dir / 'README.md'} and the notebooks differ: "
            f"not in the map {sorted(present - mapped)}, no notebook for {sorted(mapped - present)}"
        )
    return chapters


# --- execution ---------------------------------------------------------------------------


def cache_key(notebook: Path, library: Path | None) -> str:
    """A hash of the notebook, of every source file of ``library`` and of the fast mode."""
    digest = hashlib.sha256(f"{CACHE_VERSION} REFVAE_FAST=1\n".encode())
    digest.update(notebook.read_bytes())
    if library is not None:
        for source in sorted(library.rglob("*.py")):
            digest.update(str(source.relative_to(library)).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:20]


def _current_env_kernel_manager():
    """A kernel manager that starts ipykernel with this Python, whatever kernels are installed."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python ({sys.executable})",
                language="python",
            )

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvSpecs())


def execute_notebook(path: Path, timeout: int = 600):
    """``path`` executed top to bottom in fast mode, in its own folder; a failing cell raises.

    Cells marked ``# NBVAL_SKIP`` are not run (as under the tests); a cell marked
    ``# NBVAL_RAISES_EXCEPTION`` may raise.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    added = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            marks = [tag for marker, tag in (("NBVAL_SKIP", "skip-execution"), ("NBVAL_RAISES_EXCEPTION", "raises-exception"))
                     if marker in cell.source]
            if marks:
                added[i] = marks
                cell.metadata["tags"] = cell.metadata.get("tags", []) + marks
    kernel = _current_env_kernel_manager()
    client = NotebookClient(nb, timeout=timeout, startup_timeout=timeout, kernel_name="python3", km=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        # The kernel's own stderr (TensorFlow's start-up lines) is dropped; a failing cell
        # raises with its traceback all the same.
        client.execute(env={**os.environ, "REFVAE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
                       stderr=subprocess.DEVNULL)
    finally:
        if kernel.has_kernel:  # a kernel manager passed in is not shut down by nbclient
            kernel.shutdown_kernel(now=True)
    for i, marks in added.items():
        tags = [tag for tag in nb.cells[i].metadata["tags"] if tag not in marks]
        if tags:
            nb.cells[i].metadata["tags"] = tags
        else:
            del nb.cells[i].metadata["tags"]
    return nb


def cached_copy(notebook: Path, cache_dir: Path = CACHE, library: Path | None = LIBRARY) -> Path:
    """Where the executed copy of ``notebook`` as it is now is kept."""
    return cache_dir / f"{notebook.stem}.{cache_key(notebook, library)}.ipynb"


def store_executed(nb, notebook: Path, cache_dir: Path = CACHE, library: Path | None = LIBRARY) -> Path:
    """Keep ``nb``, ``notebook`` executed in fast mode, as its cached copy, and drop older copies.

    The notebook tests call this (notebooks/conftest.py) with the outputs of their own run, so
    a site built after `make test` executes no chapter again.
    """
    import nbformat

    target = cached_copy(notebook, cache_dir, library)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target) + ".tmp")
    os.replace(str(target) + ".tmp", target)
    for stale in cache_dir.glob(f"{notebook.stem}.*.ipynb"):
        if stale != target:
            stale.unlink()
    return target


def _execute_and_store(path: str, cache_dir: str, library: str | None, timeout: int) -> float:
    """Execute ``path`` and keep its executed copy; the seconds it took (a worker's job)."""
    start = time.perf_counter()
    nb = execute_notebook(Path(path), timeout)
    store_executed(nb, Path(path), Path(cache_dir), library and Path(library))
    return time.perf_counter() - start


def executed_notebooks(paths, cache_dir: Path, library: Path | None, jobs: int = 2, timeout: int = 600,
                       log=print) -> dict[Path, Path]:
    """Each notebook of ``paths`` executed, taken from ``cache_dir`` when its hash is there.

    Returns ``{notebook: executed copy}``; executes the missing ones ``jobs`` at a time.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be a positive number of kernels run at once, got {jobs}")
    targets, missing = {}, []
    for path in paths:
        targets[path] = cached_copy(path, cache_dir, library)
        if targets[path].exists():
            log(f"  {path.name}: unchanged, executed copy reused")
        else:
            missing.append(path)
    if missing:
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(missing))) as pool:
            futures = {pool.submit(_execute_and_store, str(path), str(cache_dir), library and str(library), timeout): path
                       for path in missing}
            for future in concurrent.futures.as_completed(futures):
                path = futures[future]
                try:
                    seconds = future.result()
                except Exception as error:
                    raise RuntimeError(f"executing {path} failed: {error}") from error
                log(f"  {path.name}: executed in {seconds:.0f} s")
    return targets


# --- links --------------------------------------------------------------------------------


class SiteLinks:
    """Where the links of a page made from a file of the repository lead on the site.

    Args:
      root: the repository's folder.
      pages: ``{repository path: site path}`` of the files rendered as pages, e.g.
        ``{"notebooks/04_elbo_surgery.ipynb": "04_elbo_surgery.html", "RESULTS.md": "results.html"}``.
    """

    def __init__(self, root: Path, pages: dict[str, str]):
        self.root = root
        self.pages = pages
        self.copies: set[str] = set()  # files of the repository shown as images: copied to the site
        self.missing: list[str] = []

    def rewrite(self, body: str, source: str, page: str, made: frozenset[str] = frozenset()) -> str:
        """``body``, rendered from repository file ``source`` to site path ``page``, with its
        relative links and images pointing where they lead on the site; links to the files
        ``made`` for the page (its figures, site paths) stay as they are."""
        def attribute(match):
            name, value = match.groups()
            if html.unescape(value) in made:
                return match.group(0)
            target = self.target(html.unescape(value), source, page, image=name == "src")
            return f'{name}="{html.escape(target, quote=True)}"'

        return _ATTRIBUTE.sub(attribute, _external_images_as_text(body))

    def target(self, link: str, source: str, page: str, image: bool = False) -> str:
        if not link or link.startswith("#") or _EXTERNAL.match(link):
            return link
        path, _, fragment = link.partition("#")
        fragment = "#" + fragment if fragment else ""
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        page_dir = posixpath.dirname(page) or "."
        if repo_path in self.pages:
            return posixpath.relpath(self.pages[repo_path], page_dir) + fragment
        file = self.root / repo_path
        if repo_path.startswith("..") or not file.exists():
            self.missing.append(f"{source} links {link}")
            return link
        if image:
            self.copies.add(repo_path)
            return posixpath.relpath(repo_path, page_dir)
        kind = "tree" if file.is_dir() else "blob"
        return f"{REPO_URL}/{kind}/main/{repo_path}{fragment}"


def _external_images_as_text(body: str) -> str:
    """Every <img> from another host replaced by its alt text: the site shows only its own files."""
    def replace(match):
        tag = match.group(0)
        src = re.search(r'\bsrc="([^"]*)"', tag)
        if src is None or src.group(1).startswith("data:") or not _EXTERNAL.match(src.group(1)):
            return tag
        alt = re.search(r'\balt="([^"]*)"', tag)
        return f'<span class="badge">{alt.group(1) if alt else "image"}</span>'

    return _IMG.sub(replace, body)


# --- the API reference --------------------------------------------------------------------

API_PAGE = "api.html"
NOTATION_PAGE = "notation.html"
# The package's public modules: ``refvae.__all__`` (its lazily loaded submodules) but the
# command line, which ``refvae --help`` documents.
API_EXCLUDE = ("refvae.cli",)


def api_modules() -> list[str]:
    """The public modules of refvae, in the order of ``refvae.__all__``."""
    import refvae

    return [f"refvae.{name}" for name in refvae.__all__
            if not name.startswith("_") and f"refvae.{name}" not in API_EXCLUDE]


class _Annotation(str):
    """An annotation written as a string (``from __future__ import annotations``), shown unquoted."""

    def __repr__(self):
        return str(self)


def signature(obj) -> str:
    """``obj``'s signature as ``pydoc`` shows it, ``(x: ArrayLike, n: int = 20) -> float``; hints
    written as strings are shown as written; '' when Python cannot read one."""
    import inspect

    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""

    def shown(annotation):
        return _Annotation(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=shown(p.annotation)) for p in sig.parameters.values()]
    return str(sig.replace(parameters=parameters, return_annotation=shown(sig.return_annotation)))


def _public_members(module) -> list[tuple[str, object]]:
    """``(name, object)`` of a module's public classes, functions and submodules: its ``__all__``,
    or else the public classes and functions defined in it (or, for a package, in its
    submodules), in the order they appear in it."""
    import inspect

    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items() if not name.startswith("_")
                 and (inspect.isfunction(value) or inspect.isclass(value))
                 and (getattr(value, "__module__", None) or "").split(".")[:module.__name__.count(".") + 1]
                 == module.__name__.split(".")]
    return [(name, getattr(module, name)) for name in names if not name.startswith("_")]


def _doc_block(obj) -> str:
    import inspect

    doc = inspect.getdoc(obj)
    return f'<pre class="doc">{html.escape(doc)}</pre>\n' if doc else ""


def _member_html(qualname: str, obj, level: int = 3) -> str:
    """One function or class: a heading with its signature, its docstring; a class's own public
    methods and properties under it."""
    import inspect

    kind = "class " if inspect.isclass(obj) else ""
    head = (f'<h{level} id="{html.escape(qualname)}" class="api-name"><code>{kind}{html.escape(qualname.rsplit(".", 1)[1])}'
            f'{html.escape(signature(obj) if callable(obj) else "")}</code></h{level}>\n')
    parts = [head, _doc_block(obj)]
    if inspect.isclass(obj):
        for name, value in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value) or isinstance(value, property):
                target = value.fget if isinstance(value, property) else value
                shown = "" if isinstance(value, property) else signature(target)
                label = "property " if isinstance(value, property) else ""
                parts.append(f'<h{level + 1} id="{html.escape(qualname + "." + name)}" class="api-name"><code>'
                             f"{label}{html.escape(name)}{html.escape(shown)}</code></h{level + 1}>\n")
                parts.append(_doc_block(target))
    return "".join(parts)


def api_body(modules: list[str]) -> str:
    """The API reference of ``modules`` (and of the public submodules they export) as HTML: a
    table of contents, then each module's docstring and its public classes and functions, each
    with its signature and docstring."""
    import importlib
    import inspect
    import types

    queue, seen, sections, contents = list(modules), set(), [], []
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        module = importlib.import_module(name)
        members = []
        for member_name, value in _public_members(module):
            if isinstance(value, types.ModuleType):
                if value.__name__.startswith(name + "."):
                    queue.append(value.__name__)
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                members.append(_member_html(f"{name}.{member_name}", value))
        contents.append(f'<li><a href="#{html.escape(name)}"><code>{html.escape(name)}</code></a></li>')
        sections.append(f'<section class="api-module">\n<h2 id="{html.escape(name)}"><code>{html.escape(name)}</code></h2>\n'
                        + _doc_block(module) + "".join(members) + "</section>\n")
    import refvae

    return (f"<h1>API reference</h1>\n<p>refvae {html.escape(refvae.__version__)}: every public module, class and "
            "function with its signature and docstring, generated from the package's sources "
            "(<code>tools/build_site.py</code>). The same text is at hand in Python: "
            "<code>help(refvae.metrics.mig)</code>.</p>\n<ul class=\"api-contents\">\n" + "\n".join(contents)
            + "\n</ul>\n" + "".join(sections))


# --- pages --------------------------------------------------------------------------------

STYLE = """\
:root { --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--text); background: #fff;
  font: 17px/1.6 -apple-system, "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
header.site { border-bottom: 1px solid var(--line); background: var(--code); }
header.site div, main, nav.pager, footer { max-width: 54rem; margin: 0 auto; padding: 0 1.25rem; }
header.site div { display: flex; gap: 1.5rem; align-items: baseline; padding-top: .6rem; padding-bottom: .6rem; }
header.site .home { font-weight: 600; color: var(--text); margin-right: auto; }
nav.pager { display: grid; grid-template-columns: 1fr auto 1fr; gap: 1rem; margin-top: 1.2rem; margin-bottom: 1.2rem;
  font-size: 15px; }
nav.pager .next { text-align: right; }
main { padding-bottom: 2rem; }
h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 .6em; } h1 { font-size: 1.9rem; margin-top: .6em; }
h2 { font-size: 1.45rem; border-bottom: 1px solid var(--line); padding-bottom: .25em; }
a.anchor-link { visibility: hidden; margin-left: .3em; font-size: .8em; }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link { visibility: visible; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
code { font-size: 85%; background: var(--code); padding: .1em .35em; border-radius: 4px; }
pre { font-size: 13.5px; line-height: 1.45; margin: 0; overflow-x: auto; }
pre code { background: none; padding: 0; font-size: inherit; }
main > pre, .text_cell_render pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  padding: .7rem 1rem; }
.prompt { display: none; }
.cell { margin: 1rem 0; }
.input_area { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .7rem 1rem; }
.input_area .highlight { background: none; }
.output_area pre { padding: .45rem 1rem; border-left: 3px solid #8fb3d9; background: #fbfcfd; }
.output_stderr pre { border-left-color: #e0a500; background: #fffbea; }
.output_error pre { border-left-color: #cf222e; background: #fff5f5; }
img { max-width: 100%; height: auto; display: block; margin: 1rem auto; }
/* A figure may use the window's width, not only the text column's (1.5rem from each edge of the window,
   at most 80rem): a wide figure of several panels is shrunk less, so its labels stay legible. */
.output_png, .output_jpeg, .output_svg, p.figure { margin-left: min(0px, calc(50% - 50vw + 1.5rem));
  margin-right: min(0px, calc(50% - 50vw + 1.5rem)); }
.output_png img, .output_jpeg img, .output_svg img, p.figure img { max-width: min(100%, 80rem); }
table { border-collapse: collapse; margin: 1rem 0; font-size: 15px; display: block; overflow-x: auto; }
/* Wide content scrolls sideways inside the column: tables (above), text outputs (pre), HTML outputs and
   display equations; the scroll bar is always drawn, also where the system hides idle ones. */
.output_html { overflow-x: auto; }
.MathJax_Display { overflow-x: auto; overflow-y: hidden; padding-bottom: 2px; }
main ::-webkit-scrollbar { height: 10px; width: 10px; }
main ::-webkit-scrollbar-thumb { background: #aab4bf; border-radius: 5px; }
main ::-webkit-scrollbar-track { background: #eef1f4; border-radius: 5px; }
th, td { border: 1px solid var(--line); padding: .35rem .6rem; vertical-align: top; text-align: left; }
th { background: var(--code); }
blockquote { margin: 1rem 0; padding: 0 1rem; color: var(--muted); border-left: .25em solid var(--line); }
.badge { font-size: 13px; padding: .1em .45em; border: 1px solid var(--line); border-radius: 4px;
  background: var(--code); white-space: nowrap; }
.widget-note { color: var(--muted); font-style: italic; border: 1px dashed var(--line); border-radius: 6px;
  padding: .5rem 1rem; }
td > a[href$=".html"] { font-weight: 600; }
p.solutions-link { margin-top: 2rem; padding: .6rem 1rem; border: 1px solid var(--line); border-radius: 6px;
  background: var(--code); }
pre.doc { background: none; border: none; border-left: 3px solid var(--line); padding: .2rem 0 .2rem 1rem;
  white-space: pre-wrap; font-size: 14px; }
.api-name { font-size: 1.05rem; border-bottom: none; margin: 1.6em 0 .4em; }
.api-name code { font-size: 95%; white-space: pre-wrap; }
footer { color: var(--muted); font-size: 14px; border-top: 1px solid var(--line); padding-top: 1rem;
  padding-bottom: 2rem; }
"""

MATHJAX = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: { inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
             processEscapes: true, processEnvironments: true },
  TeX: { equationNumbers: { autoNumber: "AMS" } },
  // the STIX-Web fonts are the ones jupyter-server-mathjax ships; MathJax_Blank (a font meant
  // to fail) is an empty data URL rather than about:blank, which Chromium refuses with an error
  // a display equation wider than the column scrolls sideways instead of running off the page
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
                styles: { "@font-face": { "font-family": "MathJax_Blank", src: "url('data:,')" },
                          ".MathJax_Display": { "overflow-x": "auto", "overflow-y": "hidden" } } },
  // no hidden MathML copy: it would ask for MathJax's TeX fonts, which are not shipped
  menuSettings: { assistiveMML: false },
  messageStyle: "none"
});
</script>
<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>
"""


def reading_order(chapters: list[Chapter], api: bool = False) -> list[tuple[str, str]]:
    """``(page, label)`` of every page in a reader's order: the course map, the chapters, the results
    (and the API reference when the site has one)."""
    return ([("index.html", "course map")] + [(c.page, c.label) for c in chapters]
            + [("results.html", "results against the papers")] + ([(API_PAGE, "API reference")] if api else []))


def pager(order: list[tuple[str, str]], page: str) -> str:
    """Links to the page before ``page`` in ``order``, to the course map and to the page after."""
    pages = [href for href, _ in order]
    i = pages.index(page)
    cells = ['<span class="prev"></span>', '<a class="index" href="index.html">course map</a>',
             '<span class="next"></span>']
    if i > 0:
        href, label = order[i - 1]
        cells[0] = f'<a class="prev" rel="prev" href="{href}">← {html.escape(label)}</a>'
    if i + 1 < len(order):
        href, label = order[i + 1]
        cells[2] = f'<a class="next" rel="next" href="{href}">{html.escape(label)} →</a>'
    return '<nav class="pager">' + "".join(cells) + "</nav>"


def page(title: str, body: str, nav: str, footer: str, api: bool = False, notation: bool = False) -> str:
    """A whole HTML page: the site's header (with links to the notation page when ``notation`` and
    to the API reference when ``api``), ``nav`` above and below ``body``, MathJax, ``footer``."""
    api_link = f'<a href="{API_PAGE}">API</a>' if api else ""
    notation_link = f'<a href="{NOTATION_PAGE}">notation</a>' if notation else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
<link rel="stylesheet" href="pygments.css">
{MATHJAX}</head>
<body>
<header class="site"><div><a class="home" href="index.html">refvae · the course</a>
<a href="index.html">course map</a>{notation_link}<a href="results.html">results</a>{api_link}</div></header>
{nav}
<main>
{body}
</main>
{nav}
<footer>{footer}</footer>
</body>
</html>
"""


_FIGURE_PARAGRAPH = re.compile(r"<p>\s*(<img\b[^>]*>)\s*</p>")


def markdown_html(text: str) -> str:
    """Markdown with tables and $math$ (kept for MathJax), as nbconvert renders a notebook's; an image
    on a line of its own becomes a figure, ``<p class="figure">``, which may use the window's width."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return _FIGURE_PARAGRAPH.sub(r'<p class="figure">\1</p>', markdown2html_mistune(text))


WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<p class="widget-note">Interactive controls (ipywidgets) and what they draw appear here '
               "when the notebook runs in Jupyter or Colab.</p>")


def chapter_body(executed, chapter: Chapter) -> tuple[str, dict[str, bytes]]:
    """An executed notebook as HTML, and its figures ``{site path: bytes}`` to write beside the
    page in ``NN_topic_files/``.

    Output to stderr (TensorFlow's and Keras's logging) is left out, as the tests leave it out;
    an interactive widget, which needs a kernel, is replaced by a note saying so.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExtractOutputPreprocessor

    executed.metadata.pop("widgets", None)
    for cell in executed.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE}) if WIDGET in out.get("data", {})
                else out
                for out in cell.outputs if not (out.output_type == "stream" and out.name == "stderr")]
    stem = chapter.notebook[: -len(".ipynb")]
    exporter = HTMLExporter(template_name="basic")
    exporter.register_preprocessor(ExtractOutputPreprocessor(), enabled=True)
    body, resources = exporter.from_notebook_node(
        executed, resources={"unique_key": stem, "output_files_dir": f"{stem}_files"})
    figure = iter(range(1, 100_000))
    body = re.sub('alt="No description has been provided for this image"',
                  lambda m: f'alt="{html.escape(chapter.label)}, figure {next(figure)}"', body)
    return body, dict(resources.get("outputs", {}))


def build(out: Path, root: Path = ROOT, notebooks_dir: Path | None = None, results: Path | None = None,
          cache_dir: Path | None = None, library: Path | None = None, jobs: int = 2, timeout: int = 600,
          execute=None, log=print, api: list[str] | None = None) -> dict:
    """Build the site into ``out`` (emptied first); returns ``{"pages": [...], "images": [...]}``.

    ``execute(paths) -> {path: executed copy}`` defaults to :func:`executed_notebooks` with the
    cache; a test passes one that returns notebooks already holding outputs. The chapters and the
    solutions notebooks (``notebooks_dir/solutions/NN_topic_solutions.ipynb``) are executed;
    ``notebooks_dir/notation.md``, when present, becomes ``notation.html``. ``api``: the modules
    of the API reference page (``api.html``, linked from every page's header; `make site` passes
    :func:`api_modules`), or None for a site without one.
    """
    import nbformat

    notebooks_dir = notebooks_dir or root / "notebooks"
    results = results or root / "RESULTS.md"
    chapters = course_chapters(notebooks_dir)
    solutions = course_solutions(notebooks_dir, chapters)
    notation = notebooks_dir / "notation.md"
    has_notation = notation.exists()

    def rel(path: Path) -> str:
        return path.resolve().relative_to(root.resolve()).as_posix()

    readme = rel(notebooks_dir / "README.md")
    pages = {rel(notebooks_dir / c.notebook): c.page for c in chapters}
    pages.update({rel(path): solutions_page(c) for c in chapters if (path := solutions.get(c.number))})
    pages.update({readme: "index.html", rel(results): "results.html"})
    if has_notation:
        pages[rel(notation)] = NOTATION_PAGE
    links = SiteLinks(root, pages)
    order = reading_order(chapters, api=api is not None)

    if execute is None:
        def execute(paths):
            return executed_notebooks(paths, cache_dir or CACHE, library, jobs, timeout, log)
    executed = execute([notebooks_dir / c.notebook for c in chapters] + list(solutions.values()))

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written, images = [], []

    def write(site_path: str, title: str, body: str, source: str, note: str = "", made=frozenset(), nav=None,
              after: str = ""):
        """Write a page; ``body`` comes from ``source`` (its links are rewritten), ``after`` from here."""
        made_from = f'<a href="{REPO_URL}/blob/main/{source}">{source}</a>'
        footer = f"Made from {made_from}{note}."
        body = links.rewrite(body, source, site_path, made) + after
        nav = nav if nav is not None else pager(order, site_path)
        (out / site_path).write_text(page(title, body, nav, footer, api=api is not None, notation=has_notation))
        written.append(site_path)

    def notebook_page(notebook: Path, shown_as: Chapter, title: str, extra: str = "", nav=None):
        body, figures = chapter_body(nbformat.read(executed[notebook], as_version=4), shown_as)
        for site_path, data in figures.items():
            (out / site_path).parent.mkdir(parents=True, exist_ok=True)
            (out / site_path).write_bytes(data)
            images.append(site_path)
        write(shown_as.page, title, body, rel(notebook),
              f", executed in fast mode (<code>REFVAE_FAST=1</code>) on {time.strftime('%Y-%m-%d')}",
              frozenset(figures), nav, after=extra)

    write("index.html", "refvae · the course", markdown_html((notebooks_dir / "README.md").read_text()), readme,
          after=_index_extras(chapters, solutions, has_notation))
    for chapter in chapters:
        extra = ""
        if chapter.number in solutions:
            extra = (f'\n<p class="solutions-link">Worked solutions of this chapter\'s exercises, executed: '
                     f'<a href="{solutions_page(chapter)}">{html.escape(chapter.number)} · solutions</a>.</p>\n')
        notebook_page(notebooks_dir / chapter.notebook, chapter, f"{chapter.label} · refvae course", extra)
    for chapter in chapters:
        if chapter.number not in solutions:
            continue
        shown_as = Chapter(chapter.number, "solutions", solutions[chapter.number].name)
        around = order[: order.index((chapter.page, chapter.label)) + 1]
        around = around + [(shown_as.page, shown_as.label)] + order[len(around):]
        notebook_page(solutions[chapter.number], shown_as, f"{chapter.label}: solutions · refvae course",
                      nav=pager(around, shown_as.page))
    if has_notation:
        write(NOTATION_PAGE, "Notation · refvae course", markdown_html(notation.read_text()), rel(notation),
              nav=pager([("index.html", "course map"), (NOTATION_PAGE, "notation")]
                        + ([(chapters[0].page, chapters[0].label)] if chapters else []), NOTATION_PAGE))
    write("results.html", "Results against the papers · refvae", markdown_html(results.read_text()), rel(results))
    if api is not None:
        write(API_PAGE, "API reference · refvae", api_body(api), "refvae/__init__.py",
              ", the docstrings of the package's modules")
    if links.missing:
        raise ValueError("links to files that do not exist: " + "; ".join(links.missing))
    for repo_path in sorted(links.copies):
        (out / repo_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / repo_path, out / repo_path)
        images.append(repo_path)

    from pygments.formatters import HtmlFormatter

    (out / "style.css").write_text(STYLE)
    (out / "pygments.css").write_text(HtmlFormatter(style="default").get_style_defs(".highlight"))
    _copy_mathjax(out / "mathjax")
    return {"pages": written, "images": images}


def _index_extras(chapters: list[Chapter], solutions: dict[str, Path], notation: bool) -> str:
    """What the index adds to the course map: the notation page and the solutions pages."""
    parts = []
    if notation:
        parts.append(f'<h2 id="notation">Notation</h2>\n<p>The symbols every chapter uses, with their one meaning each: '
                     f'<a href="{NOTATION_PAGE}">notation</a>.</p>')
    if solutions:
        items = "".join(f'<li><a href="{solutions_page(c)}">{html.escape(c.label)}: solutions</a></li>\n'
                        for c in chapters if c.number in solutions)
        parts.append('<h2 id="worked-solutions">Worked solutions</h2>\n<p>Each chapter\'s exercises worked out, '
                     "executed in fast mode with their outputs; every numeric answer is confirmed with "
                     "<code>refvae.course.check</code>.</p>\n<ul>\n" + items + "</ul>")
    return "\n" + "\n".join(parts) + "\n" if parts else ""


def _copy_mathjax(target: Path):
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise ImportError("the site typesets math with jupyter-server-mathjax: pip install -e '.[site]'") from error
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(static, target, ignore=lambda folder, names: [
        name for name in names if Path(folder).name == "localization" and name != "en"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="the site's folder (default: site/)")
    parser.add_argument("--jobs", type=int, default=2, help="chapters executed at once (default: 2)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may take (default: 600)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"building the course site in {args.out}")
    result = build(args.out, library=LIBRARY, jobs=args.jobs, timeout=args.timeout, api=api_modules())
    print(f"site built in {time.perf_counter() - start:.0f} s: {len(result['pages'])} pages, "
          f"{len(result['images'])} images; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
