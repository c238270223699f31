"""The HTML report: one self-contained page per run, and one per comparison of two runs.

The page needs no server and no network: CSS, the script and the 2x2 chart (SVG) are inline,
and a Content-Security-Policy lets it fetch nothing and run only its own script (by hash), so a
report opens the same from disk, a CI artifact or an e-mail.

``run_page`` renders a run, ``compare_page`` a comparison; ``parts`` holds what both share (the
case list, the word diff, the page shell), ``assets`` the stylesheet and the script.
"""

from __future__ import annotations

from evals.reports.html.compare_page import FLIP_AT, flipped, render_comparison_html
from evals.reports.html.parts import STATUSES, Cell, Row, word_diff
from evals.reports.html.run_page import CHART_LABEL, CURVE_LABEL, answer_columns, chart_svg, render_html

__all__ = [
    "CHART_LABEL",
    "CURVE_LABEL",
    "FLIP_AT",
    "STATUSES",
    "Cell",
    "Row",
    "answer_columns",
    "chart_svg",
    "flipped",
    "render_comparison_html",
    "render_html",
    "word_diff",
]
