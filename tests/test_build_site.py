"""The course site's builder (tools/build_site.py) on a tiny course of two synthetic notebooks,
one solutions notebook and a notation page: the index links each chapter once, the pager leads
through the pages in order, a figure becomes an <img> whose file is the figure, links are
rewritten, the solutions and the notation are pages linked from where a reader looks for them,
and executed notebooks are cached by content. (`make site-check` checks the real site in a
browser; tests/test_check_site.py tests its detectors.)"""

import base64
import os
import re
import struct
import sys
import zlib

import nbformat
import pytest

from tools import build_site


def _png(width, height):
    """A valid grey PNG of the given size, written by hand (PNG spec, sections 5 and 11)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


FIGURE = _png(6, 4)
README = """# A course

| NN | chapter | question |
|---|---|---|
| 00 | [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.example/00_first.ipynb) [first steps](00_first.ipynb) | Why? |
| 01 | [second steps](01_second.ipynb) | How? |

The results are in [RESULTS](../RESULTS.md).
"""  # noqa: E501  (a course-map row as the README writes it)


@pytest.fixture
def course(tmp_path):
    """A repository with two chapters (the first draws a figure), a course map and RESULTS.md."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "README.md").write_text(README)
    first = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 00 · First\n\nNext: [the second chapter](01_second.ipynb#Second), "
                                      "$x^2$; [notation](notation.md)."),
        nbformat.v4.new_code_cell("plot()", execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(FIGURE).decode(), "text/plain": "<Figure>"}),
            nbformat.v4.new_output("stream", name="stderr", text="a TensorFlow warning\n"),
        ]),
        nbformat.v4.new_code_cell("interact(draw, beta=(0, 10))", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "0a96", "version_major": 2, "version_minor": 0},
                "text/plain": "interactive(children=(FloatSlider(value=1.0),))"}),
        ]),
    ])
    second = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Second\n\nSee [the results](../RESULTS.md#Claim-1) and "
                                      "[the package](../pkg/)."),
    ])
    nbformat.write(first, notebooks / "00_first.ipynb")
    nbformat.write(second, notebooks / "01_second.ipynb")
    (notebooks / "solutions").mkdir()
    solutions = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 00 · Solutions\n\nFor [chapter 00](../00_first.ipynb); "
                                      "symbols as in [the notation](../notation.md)."),
        nbformat.v4.new_code_cell("print(6 * 7)", execution_count=1, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="42\n")]),
    ])
    nbformat.write(solutions, notebooks / "solutions" / "00_first_solutions.ipynb")
    (notebooks / "notation.md").write_text("# Notation\n\n| symbol | meaning |\n|---|---|\n| $N$ | data points |\n")
    (tmp_path / "figs").mkdir()
    (tmp_path / "figs" / "claim1.png").write_bytes(_png(3, 2))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "RESULTS.md").write_text("# Results\n\n## Claim 1\n\n![claim 1](figs/claim1.png)\n")
    return tmp_path


EXECUTED = []  # the notebooks the last build asked to execute


def _build(course, **options):
    def execute(paths):
        EXECUTED[:] = paths
        return {path: path for path in paths}

    return build_site.build(course / "site", root=course, execute=execute, log=lambda message: None, **options)


PAGES = ["index.html", "00_first.html", "01_second.html", "00_first_solutions.html", "notation.html", "results.html"]


def _main(html):
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


def _pager(html):
    nav = re.search(r'<nav class="pager">(.*?)</nav>', html).group(1)
    prev = re.search(r'rel="prev" href="([^"]+)"', nav)
    following = re.search(r'rel="next" href="([^"]+)"', nav)
    return prev and prev.group(1), following and following.group(1)


def test_course_map_reads_number_title_and_notebook_in_order():
    chapters = build_site.course_map(README)
    assert chapters == [build_site.Chapter("00", "first steps", "00_first.ipynb"),
                        build_site.Chapter("01", "second steps", "01_second.ipynb")]
    assert [c.page for c in chapters] == ["00_first.html", "01_second.html"]
    assert chapters[0].label == "00 · first steps"


def test_course_map_refuses_a_row_without_its_notebook():
    with pytest.raises(ValueError, match="row 01 has no link"):
        build_site.course_map("| 01 | second steps | How? |\n")
    with pytest.raises(ValueError, match="row 01 links 02_third.ipynb"):
        build_site.course_map("| 01 | [third](02_third.ipynb) | How? |\n")
    with pytest.raises(ValueError, match="no course map"):
        build_site.course_map("# no table here\n")


def test_a_notebook_missing_from_the_course_map_stops_the_build(course):
    nbformat.write(nbformat.v4.new_notebook(), course / "notebooks" / "02_third.ipynb")
    with pytest.raises(ValueError, match=r"not in the map \['02_third.ipynb'\]"):
        _build(course)


def test_index_links_each_chapter_once_with_its_title(course):
    result = _build(course)
    assert result["pages"] == PAGES
    index = _main((course / "site" / "index.html").read_text())
    links = re.findall(r'<a href="([^"]+\.html)">([^<]+)</a>', index)
    assert links == [("00_first.html", "first steps"), ("01_second.html", "second steps"),
                     ("results.html", "RESULTS"), ("notation.html", "notation"),
                     ("00_first_solutions.html", "00 · first steps: solutions")]


def test_solutions_are_executed_and_shown_as_pages_linked_from_their_chapter(course):
    _build(course)
    site = course / "site"
    assert [path.name for path in EXECUTED] == ["00_first.ipynb", "01_second.ipynb", "00_first_solutions.ipynb"]
    solutions = _main((site / "00_first_solutions.html").read_text())
    assert "42" in solutions                                  # the output of its cell
    assert 'href="00_first.html"' in solutions and 'href="notation.html"' in solutions
    assert _pager((site / "00_first_solutions.html").read_text()) == ("00_first.html", "01_second.html")
    first = _main((site / "00_first.html").read_text())
    assert '<a href="00_first_solutions.html">00 · solutions</a>' in first
    assert "_solutions.html" not in _main((site / "01_second.html").read_text())  # it has none
    # the pager of the chapters leads past the solutions, from chapter to chapter
    assert _pager((site / "00_first.html").read_text()) == ("index.html", "01_second.html")


def test_the_notation_page_is_linked_from_the_header_of_every_page(course):
    result = _build(course)
    site = course / "site"
    for page in result["pages"]:
        assert '<a href="notation.html">notation</a>' in (site / page).read_text(), page
    assert 'href="notation.html"' in _main((site / "00_first.html").read_text())  # notation.md rewritten
    assert "<td>$N$</td>" in _main((site / "notation.html").read_text())
    (course / "notebooks" / "notation.md").unlink()
    (course / "notebooks" / "solutions" / "00_first_solutions.ipynb").unlink()
    first = nbformat.read(course / "notebooks" / "00_first.ipynb", as_version=4)
    first.cells[0].source = first.cells[0].source.replace("; [notation](notation.md)", "")
    nbformat.write(first, course / "notebooks" / "00_first.ipynb")
    result = _build(course)
    assert result["pages"] == ["index.html", "00_first.html", "01_second.html", "results.html"]
    assert 'href="notation.html"' not in (site / "index.html").read_text()


def test_pager_leads_from_the_index_through_the_chapters_to_the_results(course):
    _build(course)
    site = course / "site"
    assert _pager((site / "index.html").read_text()) == (None, "00_first.html")
    assert _pager((site / "00_first.html").read_text()) == ("index.html", "01_second.html")
    assert _pager((site / "01_second.html").read_text()) == ("00_first.html", "results.html")
    assert _pager((site / "results.html").read_text()) == ("01_second.html", None)
    for page in PAGES:
        assert '<a class="index" href="index.html">' in (site / page).read_text()


def test_a_figure_becomes_an_img_whose_file_is_the_figure(course):
    result = _build(course)
    site = course / "site"
    body = _main((site / "00_first.html").read_text())
    sources = re.findall(r'<img [^>]*src="([^"]+)"', body)
    assert sources == ["00_first_files/00_first_1_0.png"]
    assert (site / sources[0]).read_bytes() == FIGURE
    assert sources[0] in result["images"]
    assert 'alt="00 · first steps, figure 1"' in body
    assert "a TensorFlow warning" not in body  # stderr is left out, as in the tests
    assert "interactive(children" not in body and build_site.WIDGET_NOTE in body  # no kernel, no widget


def test_links_lead_to_pages_files_on_github_and_copied_images(course):
    _build(course)
    site = course / "site"
    index = _main((site / "index.html").read_text())
    assert "colab-badge.svg" not in index and '<span class="badge">Open In Colab</span>' in index
    first = _main((site / "00_first.html").read_text())
    assert 'href="01_second.html#Second"' in first
    second = _main((site / "01_second.html").read_text())
    assert 'href="results.html#Claim-1"' in second
    assert f'href="{build_site.REPO_URL}/tree/main/pkg"' in second
    results = _main((site / "results.html").read_text())
    assert '<p class="figure"><img src="figs/claim1.png" alt="claim 1"' in results   # may use the window's width
    assert (site / "figs" / "claim1.png").read_bytes() == (course / "figs" / "claim1.png").read_bytes()
    assert (site / "mathjax" / "MathJax.js").exists()


def test_a_link_to_a_missing_file_stops_the_build(course):
    (course / "RESULTS.md").write_text("# Results\n\n![gone](figs/gone.png) and [gone](notes.md)\n")
    with pytest.raises(ValueError, match=r"RESULTS.md links figs/gone.png; RESULTS.md links notes.md"):
        _build(course)


@pytest.mark.slow
def test_executed_notebooks_run_in_this_python_in_fast_mode_and_are_cached(tmp_path):
    notebook = tmp_path / "00_probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# NBVAL_SKIP\nraise RuntimeError('a skipped cell ran')"),
        nbformat.v4.new_code_cell("import os, sys\nprint(sys.executable, os.environ['REFVAE_FAST'], os.getcwd())"),
    ]), notebook)
    library = tmp_path / "library"
    library.mkdir()
    (library / "module.py").write_text("A = 1\n")
    cache, messages = tmp_path / "cache", []

    executed = build_site.executed_notebooks([notebook], cache, library, jobs=1, log=messages.append)
    output = nbformat.read(executed[notebook], as_version=4).cells[1].outputs[0].text
    assert output.split() == [sys.executable, "1", str(tmp_path)]
    assert nbformat.read(executed[notebook], as_version=4).cells[0].outputs == []
    assert messages[-1].startswith("  00_probe.ipynb: executed in")

    assert build_site.executed_notebooks([notebook], cache, library, jobs=1, log=messages.append) == executed
    assert messages[-1] == "  00_probe.ipynb: unchanged, executed copy reused"

    (library / "module.py").write_text("A = 2\n")  # the library changed: run again, drop the old copy
    again = build_site.executed_notebooks([notebook], cache, library, jobs=1, log=messages.append)
    assert again[notebook] != executed[notebook] and messages[-1].endswith(" s")
    assert sorted(cache.iterdir()) == [again[notebook]]


def _children(pid):
    """The command lines of the processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    children.append(open(f"/proc/{stat}/cmdline").read().replace("\0", " "))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return children


@pytest.mark.slow
def test_executing_a_notebook_leaves_no_kernel_running(tmp_path):
    notebook = tmp_path / "00_probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), notebook)
    executed = build_site.execute_notebook(notebook)
    assert executed.cells[0].outputs[0].text == "42\n"
    assert [child for child in _children(os.getpid()) if "ipykernel" in child] == []


def test_api_page_shows_each_function_with_its_hints_and_docstring_and_is_linked_from_every_page(course):
    result = _build(course, api=["refvae.info"])
    site = course / "site"
    assert result["pages"] == PAGES + ["api.html"]
    for page in result["pages"]:
        assert '<a href="api.html">API</a>' in (site / page).read_text()
    assert _pager((site / "results.html").read_text()) == ("01_second.html", "api.html")
    api = _main((site / "api.html").read_text())
    assert '<a href="#refvae.info"><code>refvae.info</code></a>' in api
    assert ('<h3 id="refvae.info.diag_gaussian_kl" class="api-name"><code>diag_gaussian_kl(loc: ArrayLike | tf.Tensor, '
            'scale: ArrayLike | tf.Tensor, prior_loc: ArrayLike | float = 0.0, prior_scale: ArrayLike | float = 1.0) '
            '-&gt; np.ndarray | tf.Tensor</code></h3>') in api
    assert "KL = ½ ((μ₀ − μ₁)/s₁)² + ½ expm1(2ℓ) − ℓ" in api
    from refvae import info

    public = [name for name, value in vars(info).items() if not name.startswith("_") and callable(value)
              and getattr(value, "__module__", "") == "refvae.info"]
    assert len(public) == 9
    assert sorted(re.findall(r'<h3 id="refvae\.info\.(\w+)"', api)) == sorted(public)


def test_api_modules_are_the_public_modules_of_the_package():
    import refvae

    assert build_site.api_modules() == [f"refvae.{name}" for name in refvae.__all__
                                        if name not in ("__version__", "cli")]


@pytest.mark.slow
def test_api_reference_of_the_whole_package_lists_every_exported_metric_and_model():
    import refvae.metrics
    import refvae.models

    body = build_site.api_body(build_site.api_modules())
    ids = set(re.findall(r'id="([^"]+)"', body))
    for name in refvae.metrics.__all__:
        if callable(getattr(refvae.metrics, name)):
            assert f"refvae.metrics.{name}" in ids, name
    for name in ("VAE", "FactorVAE", "InfoMaxVAE", "HierarchicalVAE"):
        assert f"refvae.models.{name}" in ids, name
    assert "refvae.compat.disentanglement_lib.compute_mig" in ids
    assert "refvae.models.VAE.train_step" in ids
