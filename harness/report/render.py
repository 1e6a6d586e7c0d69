"""The one place report HTML is made: Jinja2 templates under `harness/report/templates/`, with
autoescaping on, so a value read from a run folder (a step name, an error message, a field of
rollout.json) reaches a page only as text.

Sections compute plain values in Python and hand them to a template; none builds markup by
hand. The filters below format numbers for the tables and are the only formatting templates
use.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from harness.markdown import plain
from harness.telemetry.latency import format_ms

__all__ = ["Markup", "environment", "render", "trusted_svg"]


def ms(value: float) -> str:
    """A latency in ms for a table cell: `8.5 ms`, `240 ms`, `1,204 ms`, `12.3 s` (as every
    summary shows it: `harness.telemetry.latency.format_ms`)."""
    return format_ms(value)


def num(value: float | None) -> str:
    """A statistic with three significant digits (a thousand and more in full); empty for None."""
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def count(value: int | None) -> str:
    """`1,204`, or `—` for a count that was not recorded."""
    return "—" if value is None else f"{value:,}"


def shortest(value: Any) -> str:
    """A number in its shortest form (`5`, `2.5`), as `format(value, "g")` writes it."""
    return format(float(value), "g")


def over_time_ms(value: float) -> str:
    """A window's latency: `-` for a window without samples."""
    if math.isnan(value):
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _printable(value: Any) -> Any:
    """Every value a template prints, before it is escaped: text loses terminal escapes and
    control characters (a target's error message may carry them; HTML has no use for them)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return plain(value, lines=True)
    return value


@functools.cache
def environment() -> Environment:
    """The report's Jinja2 environment: templates from the package, every value cleaned of
    control characters and escaped, and an error (not an empty string) for a name a template
    uses but was not given."""
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "svg"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_printable,
    )
    env.filters.update(ms=ms, num=num, count=count, g=shortest, over_time_ms=over_time_ms)
    return env


def render(template: str, /, **context: Any) -> Markup:
    """`template` rendered with `context`; the result is markup, safe to put into a page."""
    return Markup(environment().get_template(template).render(**context))


def trusted_svg(svg: str) -> Markup:
    """An SVG chart drawn by matplotlib, as markup.

    Matplotlib's SVG backend escapes every text it writes (titles, tick labels, legends: names
    from the run folder among them) and writes numbers as numbers, so the document is safe to
    inline; `tests/unit/test_report_escaping.py` holds it to that.
    """
    return Markup(svg)  # the backend escaped every text: see the docstring
