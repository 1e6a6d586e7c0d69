"""Open contexts per GiB: Chromium's memory with N contexts open (each at /), opened as
`harness load` opens them (no Playwright trace), N going up then down again so that a drift of
the machine (other Chromiums starting or stopping change how shared pages divide into PSS) hits
both ends. PSS is the goal's measure; USS (private memory, not shared with any process) is
shown beside it, as the steadier one."""

from __future__ import annotations

from bench.browser import GOAL_CONTEXTS_PER_GIB
from bench.lib.contexts import contexts_memory
from bench.lib.output import Row, say
from bench.lib.stats import fit


def points(counts: tuple[int, ...], web_url: str) -> list[tuple[int, float, float]]:
    """(N, PSS MiB, USS MiB) for each N of `counts`, then each again on the way down."""
    return contexts_memory((*counts, *reversed(counts[:-1])), web_url)


def rows(counts: tuple[int, ...], web_url: str) -> list[Row]:
    say(f"  Chromium memory with N open contexts as `harness load` opens them, N = {counts}")
    got = points(counts, web_url)
    xs = [p[0] for p in got]
    pss_slope, pss_fixed = fit(xs, [p[1] for p in got])
    uss_slope, _ = fit(xs, [p[2] for p in got])
    per_gib = 1024.0 / pss_slope if pss_slope > 0 else float("inf")
    say(
        f"    fit: PSS {pss_slope:.1f} MiB per context + {pss_fixed:.0f} MiB fixed; "
        f"USS {uss_slope:.1f} MiB per context"
    )
    return [
        Row(
            "open contexts per GiB (PSS)",
            f"{per_gib:.1f} ({pss_slope:.1f} MiB each)",
            f">= {GOAL_CONTEXTS_PER_GIB:g}",
            per_gib >= GOAL_CONTEXTS_PER_GIB,
            {"points": got},
        ),
        Row("USS per open context", f"{uss_slope:.1f} MiB", "(info)", None),
    ]
