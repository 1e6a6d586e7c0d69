"""Trace headers held on the browser's requests (`harness/touchpoints/web_trace.py`).

Against a local recording server on loopback, through `BrowserHost` and `WebSession` as a web
step drives them, each in a fresh context: (1) popups, `window.open` and a `target=_blank` link,
each opened by an action with a traceparent of its own, counting the popups whose first document
request carried that traceparent; (2) a traced action's cost on a page that opens no popup: the
first traced `goto` of a context (the hold's set-up included), later `goto`s and in-page
`fetch`es, medians in ms. Run it beside `stress-ng --cpu 1` for a busy machine.
"""
