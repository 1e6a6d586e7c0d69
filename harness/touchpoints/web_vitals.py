"""Web Vitals of each web step, measured in the page by PerformanceObserver entries.

An init script (added to every browser context) watches each document the page loads and keeps
what the public Web Vitals definitions (web.dev, W3C Paint, Largest Contentful Paint, Layout
Instability and Event Timing specifications) measure; the step reads it when it ends, after its
duration was taken, so reading costs the step nothing:

- `ttfb`: the navigation's `responseStart` (after `activationStart` for a prerendered page);
- `fcp`: the `first-contentful-paint` paint entry;
- `lcp`: the last `largest-contentful-paint` entry before the document was read or left (a
  read after the DOM changed since the latest entry waits up to three frames for a larger one);
- `cls`: the largest session window of layout shifts without recent input (shifts at most 1 s
  apart, a window at most 5 s long), over the shifts since the previous read; unitless;
- `inp`: the longest interaction (event-timing entries grouped by `interactionId`, the longest
  entry of each; with 50 or more interactions, one is ignored per 50, as INP's 98th percentile)
  since the previous read. Interactions under 16 ms produce no entry, so a step of quick
  interactions has no `inp`;
- `requests` and `transfer`: the documents and resources the page fetched since the previous
  read (Resource Timing), and their transferred size in kB (0 for a cached response, or a
  cross-origin one without `Timing-Allow-Origin`).

A document's loading metrics (ttfb, fcp, lcp, and cls as of then) are reported once: at the
first step end after its largest contentful paint (a step's end waits up to `LCP_WAIT_MS` for
one, so that a paint a busy renderer delays still belongs to the step that loaded it), or
when the document is left (`pagehide`, kept in `sessionStorage` for the next document of the
same origin). A step that navigates three times yields three samples of each. Times in ms.
"""

from __future__ import annotations

import os
from typing import Any

#: `HARNESS_WEB_VITALS=0` measures none (no init script, no read at a step's end: a step's end
#: then costs no round trip to the page, nor the wait for a pending largest paint)
ENV = "HARNESS_WEB_VITALS"


def enabled() -> bool:
    """False when `HARNESS_WEB_VITALS` is 0, false, no or off."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


#: the metrics, in the order reports show them
NAMES: tuple[str, ...] = ("ttfb", "fcp", "lcp", "cls", "inp", "requests", "transfer")
UNITLESS = frozenset({"cls"})  #: shown with 2 decimals
#: not times: `requests` (a count) and `transfer` (kB, 1,000 bytes, over the network)
UNITS = {"requests": "", "transfer": " kB"}
_PENDING = "__harness_vitals"
#: how long a step's end waits for its document's largest contentful paint when none is in yet
#: (the step's duration is already taken; a page that never paints content costs this much)
LCP_WAIT_MS = 1000

INIT_SCRIPT = """(() => {
  // about:blank (where a reused context waits between iterations), data: and the like: nothing
  // a person sees from the target, and no observers to set up
  if (window.__harnessVitals || !/^https?:$/.test(location.protocol)) return;
  const K = "__KEY__";
  let lcp = null, fcp = null, navDone = false, shifts = [], inters = new Map(), obs = [];
  let seen = 0;
  try { performance.setResourceTimingBufferSize(1000); } catch (e) {}
  const watch = (type, opts, fn) => {
    try {
      const o = new PerformanceObserver((l) => l.getEntries().forEach(fn));
      o.observe(Object.assign({type, buffered: true}, opts));
      obs.push([o, fn]);
    } catch (e) {}
  };
  watch("paint", {}, (e) => { if (e.name === "first-contentful-paint") fcp = e.startTime; });
  // when the latest largest-paint entry came in, and when the DOM last changed: a change after
  // it (content shown late) may still paint a larger element
  let lcpSeen = 0, changed = 0;
  watch("largest-contentful-paint", {}, (e) => { lcp = e.startTime; lcpSeen = performance.now(); });
  try {
    new MutationObserver(() => { changed = performance.now(); }).observe(document, {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
  } catch (e) {}
  watch("layout-shift", {}, (e) => { if (!e.hadRecentInput) shifts.push(e); });
  const inter = (e) => {
    if (!e.interactionId) return;
    const was = inters.get(e.interactionId) || 0;
    if (e.duration > was) inters.set(e.interactionId, e.duration);
  };
  watch("event", {durationThreshold: 16}, inter);
  watch("first-input", {}, inter);
  const flush = () => obs.forEach(([o, fn]) => {
    try { o.takeRecords().forEach(fn); } catch (e) {}
  });
  const cls = () => {
    let best = 0, sum = 0, first = null, last = null;
    for (const s of shifts) {
      if (first !== null && s.startTime - last < 1000 && s.startTime - first < 5000) {
        sum += s.value;
      } else { sum = s.value; first = s.startTime; }
      last = s.startTime;
      if (sum > best) best = sum;
    }
    return best;
  };
  const take = (leaving) => {
    flush();
    const out = {};
    const all = performance.getEntriesByType("resource"), fresh = all.slice(seen);
    seen = all.length;
    let requests = fresh.length, bytes = 0;
    fresh.forEach((r) => { bytes += r.transferSize || 0; });
    if (!navDone && (lcp !== null || leaving)) {
      navDone = true;
      const nav = performance.getEntriesByType("navigation")[0];
      if (nav) {
        out.ttfb = Math.max(nav.responseStart - (nav.activationStart || 0), 0);
        requests += 1;
        bytes += nav.transferSize || 0;
      }
      if (fcp !== null) out.fcp = fcp;
      if (lcp !== null) out.lcp = lcp;
      out.cls = cls();
      shifts = [];
    } else if (shifts.length) { out.cls = cls(); shifts = []; }
    if (inters.size) {
      const d = [...inters.values()].sort((a, b) => b - a);
      out.inp = d[Math.min(d.length - 1, Math.floor(d.length / 50))];
      inters = new Map();
    }
    if (requests) { out.requests = requests; out.transfer = bytes / 1000; }
    if (Object.keys(out).length) out.page = location.pathname;
    return out;
  };
  const pending = () => {
    try {
      const p = JSON.parse(sessionStorage.getItem(K) || "[]");
      sessionStorage.removeItem(K);
      return Array.isArray(p) ? p : [];
    } catch (e) { return []; }
  };
  addEventListener("pagehide", () => {
    try {
      const found = take(true);
      if (Object.keys(found).length) {
        const p = JSON.parse(sessionStorage.getItem(K) || "[]");
        p.push(found);
        sessionStorage.setItem(K, JSON.stringify(p.slice(-50)));
      }
    } catch (e) {}
  });
  window.__harnessVitals = async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    // a document whose largest paint is still to come (a busy renderer, content shown late):
    // wait for it, frame by frame, up to __WAIT__ ms, so that it belongs to this step
    const next = async () => {
      await Promise.race([frame(), new Promise((r) => setTimeout(r, 100))]);
      flush();
    };
    const start = performance.now();
    while (!navDone && lcp === null && performance.now() - start < __WAIT__) await next();
    // the DOM changed after the largest paint so far (content made visible, text filled in):
    // up to three frames for the larger paint it may bring, ending as soon as one comes in
    const seen = lcpSeen;
    for (let i = 0; i < 3 && !navDone && changed > seen && lcpSeen === seen; i++) await next();
    const found = pending();
    found.push(take(false));
    return found;
  };
})();""".replace("__KEY__", _PENDING).replace("__WAIT__", str(LCP_WAIT_MS))

READ = "() => window.__harnessVitals ? window.__harnessVitals() : []"


Samples = dict[str, tuple[float, ...]]  #: metric → samples, in the order they were taken
Pages = dict[str, tuple[str, ...]]  #: metric → the page of each of its samples


def merge(documents: Any) -> Samples:
    """The per-document readings the page returned, as metric → samples (ms; CLS unitless);
    anything malformed (a page may overwrite the reader) is dropped."""
    return merge_pages(documents)[0]


def merge_pages(documents: Any) -> tuple[Samples, Pages]:
    """`merge`, and the page each sample was measured on (`page_template` of the document's
    path; `?` when the document did not say)."""
    found: dict[str, list[float]] = {}
    pages: dict[str, list[str]] = {}
    if not isinstance(documents, list):
        return {}, {}
    for document in documents[:100]:
        if not isinstance(document, dict):
            continue
        path = document.get("page")
        page = page_template(path) if isinstance(path, str) else UNKNOWN_PAGE
        for name in NAMES:
            value = document.get(name)
            if isinstance(value, int | float) and 0 <= value < 3_600_000:
                found.setdefault(name, []).append(round(float(value), 4 if name in UNITLESS else 1))
                pages.setdefault(name, []).append(page)
    return (
        {name: tuple(found[name]) for name in NAMES if name in found},
        {name: tuple(pages[name]) for name in NAMES if name in pages},
    )


#: the page of a reading that named none (a page that overwrote the reader)
UNKNOWN_PAGE = "?"
_MAX_PAGE = 200  #: characters of a page path kept (a path is a series name in the gates)


def page_template(path: str) -> str:
    """A document's path as a page name: id-like segments as `{id}` (`/orders/{id}`)."""
    from harness.telemetry.spans import url_template

    return url_template(path.split("?", 1)[0][:_MAX_PAGE] or "/")


async def read(page: Any) -> tuple[Samples, Pages]:
    """The Web Vitals the page measured since the previous read, and the page of each sample
    (empty when it cannot say: a closed page, a crashed browser, a page without the script)."""
    try:
        return merge_pages(await page.evaluate(READ))
    except Exception:  # the page navigated away mid-read, or is gone: nothing to report
        return {}, {}
