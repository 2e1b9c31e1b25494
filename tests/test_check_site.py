"""The detectors of the site check (tools/check_site.py) on what a page reports: a figure shrunk
below a legible size, content wider than the page without a scroll bar, LaTeX left unrendered.

The browser measures (``_INSPECT``, run by `make site-check` in headless Chromium, where the
detectors first run on the pages with planted defects of ``SELF_TEST``); the decisions are made
in Python, and these tests hold them to numbers a reader can check."""

import re
import struct
import zlib

import pytest

from tools import check_site


def _png_without_resolution(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _image(natural, rendered, src="fig.png", complete=True):
    return {"src": src, "complete": complete, "natural_width": natural, "natural_height": 100,
            "rendered_width": rendered}


def _box(scroll_width=800, client_width=800, overflow_x="visible", scrollbar=0, right=1000, viewport=1200,
         tag="pre", classes="", text="a wide line", left=200):
    return {"tag": tag, "classes": classes, "text": text, "scroll_width": scroll_width, "client_width": client_width,
            "overflow_x": overflow_x, "scrollbar": scrollbar, "left": left, "right": right, "viewport": viewport}


def test_png_dpi_reads_the_resolution_matplotlib_writes():
    assert check_site.png_dpi(check_site._png(4, 3, dpi=100)) == pytest.approx(100.0, abs=0.01)
    assert check_site.png_dpi(check_site._png(4, 3, dpi=300)) == pytest.approx(300.0, abs=0.01)
    assert check_site.png_dpi(_png_without_resolution(4, 3)) is None
    assert check_site.png_dpi(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


def test_a_figure_text_height_is_8_pt_at_its_dpi_times_its_scale():
    # 8 pt at 100 dpi is 11.1 px; shown at 60 % of its width, 6.67 px
    assert check_site.smallest_text_px(1000, 600, 100.0) == pytest.approx(8 * 100 / 72 * 0.6)
    assert check_site.smallest_text_px(1000, 600, 100.0) == pytest.approx(6.667, abs=1e-3)
    assert check_site.smallest_text_px(500, 500, None) == pytest.approx(8.0)   # no resolution: 72 dpi


def test_a_figure_shrunk_below_7_px_text_fails_and_one_above_passes():
    dpi = {"wide.png": 100.0, "shrunk.png": 100.0, "old.png": None}.get
    # 04's three-panel figure before the fix: about 1,900 px shown in an 824-px column, 4.8 px text
    problems = check_site.image_problems([_image(1900, 824, "shrunk.png")], dpi)
    assert len(problems) == 1
    assert "shrunk to 824 of its 1900 px (43%)" in problems[0] and "4.8 px tall" in problems[0]
    # 03's rate-distortion figure: 1,277 px in 824, 7.2 px text: legible
    assert check_site.image_problems([_image(1277, 824, "wide.png")], dpi) == []
    # the threshold for a 100-dpi figure is a scale of 7 px / (8 pt × 100/72) = 0.63
    assert check_site.image_problems([_image(1000, 635, "wide.png")], dpi) == []
    assert len(check_site.image_problems([_image(1000, 625, "wide.png")], dpi)) == 1
    # a figure shown at or above its natural width is never too small; one without a dpi counts as 72 dpi
    assert check_site.image_problems([_image(600, 900, "wide.png"), _image(600, 600, "old.png")], dpi) == []
    assert len(check_site.image_problems([_image(600, 500, "old.png")], dpi)) == 1   # 6.7 px


def test_an_image_that_did_not_load_fails():
    problems = check_site.image_problems([_image(0, 0, "gone.png"), _image(10, 10, "half.png", complete=False)])
    assert problems == ["image gone.png not shown (loaded: True, natural width 0)",
                        "image half.png not shown (loaded: False, natural width 10)"]


def test_content_wider_than_its_box_fails_unless_it_scrolls_with_a_visible_scroll_bar():
    problems = check_site.overflow_problems([
        _box(2400, 824, "visible", text="the study table"),        # spills out over the page edge
        _box(2400, 824, "hidden", text="a cut line"),              # cut off
        _box(2400, 824, "auto", scrollbar=0, text="overlay bar"),   # scrolls, but no bar to be seen
        _box(2400, 824, "auto", scrollbar=10, text="fine"),         # scrolls with a 10-px bar: fine
        _box(824, 824, "visible", right=1012, text="fits"),          # fits: fine
        _box(824, 824, "visible", right=1500, tag="table", text="past the edge"),
    ])
    assert len(problems) == 4
    assert problems[0].startswith("pre ('the study table') is wider than its box and spills out without a scroll bar")
    assert "2400 px of content in a 824-px box" in problems[0]
    assert problems[1].startswith("pre ('a cut line') is wider than its box and cut off")
    assert problems[2].startswith("pre ('overlay bar') scrolls sideways but shows no scroll bar (0 px)")
    assert problems[3] == "table ('past the edge') runs past the edge of the window (from 200 to 1500 px in a 1200-px window)"


def test_a_page_that_scrolls_sideways_fails():
    assert check_site.overflow_problems([], (1200, 1200)) == []
    assert check_site.overflow_problems([], (3130, 1200)) == [
        "the page scrolls sideways: 3130 px wide in a 1200-px window"]


def test_tex_left_in_the_text_fails_and_prose_passes():
    problems = check_site.latex_problems([
        "where $\\mathrm{KL}(q \\| p) = 0.818 nats",     # 00's takeaway as the site showed it
        "Left raw: \\frac{1}{2} and \\( x \\)",
        "costs 3 nats; the ratio is 1/2 (a/b)",
        "C:\\ d",
        "$\\alpha \\beta \\gamma \\delta \\epsilon",
    ])
    assert problems == [
        "unrendered LaTeX '$', '\\\\mathrm' in 'where $\\\\mathrm{KL}(q \\\\| p) = 0.818 nats'",
        "unrendered LaTeX '\\\\frac', '\\\\(', '\\\\)' in 'Left raw: \\\\frac{1}{2} and \\\\( x \\\\)'",
        "unrendered LaTeX '$', '\\\\alpha', '\\\\beta', '\\\\gamma' and 2 more in "
        "'$\\\\alpha \\\\beta \\\\gamma \\\\delta \\\\epsilon'",
    ]


def test_every_planted_defect_of_the_self_test_has_a_detector_message_that_matches_it():
    """The self-test's patterns (checked in Chromium by `make site-check`) match what the
    detectors say about the kind of defect each one plants, so they cannot drift apart."""
    _, expected = check_site.SELF_TEST["defects.html"]
    assert check_site.SELF_TEST["clean.html"][1] == []
    messages = (
        check_site.image_problems([_image(2400, 824, "http://127.0.0.1:8000/huge.png")], lambda src: 100.0)
        + check_site.overflow_problems([
            _box(3000, 3000, "visible", right=3130, tag="table"),
            _box(5876, 822, "hidden", tag="pre"),
            _box(5876, 822, "auto", scrollbar=0, tag="pre", classes="no-bar"),
            _box(4091, 824, "visible", tag="div", classes="MathJax_Display"),
        ])
        + check_site.latex_problems(["Left raw: \\frac{1}{2} outside a formula.", "A lone $ sign."]))
    for pattern in expected:
        assert sum(bool(re.search(pattern, message)) for message in messages) == 1, pattern
    assert len(expected) == len(messages) == 7
