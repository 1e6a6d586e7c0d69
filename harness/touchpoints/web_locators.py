"""Playwright's own objects, synchronously: what `j.web.page` and `j.web.expect` give
(`harness/touchpoints/web_vocabulary.py`).

`Sync` wraps one of Playwright's async objects (the `Page`, a `Locator`, a `FrameLocator`, the
keyboard, a `Response`, the assertions `expect(...)` returns) and gives it Playwright's
synchronous API: the same names and arguments, so that code recorded by
`playwright codegen --target python` runs in a step once `page` reads `j.web.page` and `expect`
reads `j.web.expect`. Each coroutine method runs on the browser loop and is waited for with the
host's waiter (cooperatively under Locust); actions (click, fill, goto, assertions, ...) get a
span of their own and carry the step's `traceparent`, reads (`count`, `text_content`, ...) do
not. Whatever the method returns comes back wrapped in turn (a `Locator` from `nth`, a
`Response` from `goto`).

Callbacks Playwright calls with its objects (`page.on("dialog", handle)`, `page.route(url,
handle)`, `expose_function`, `add_locator_handler`) and the predicates of its event waits
(`page.expect_response(lambda r: r.json()["ok"])`, `wait_for_event`, `expect_popup`, ...) run
as in the sync API: with these synchronous objects, off the browser loop (a thread, or a
greenlet under Locust), Playwright waiting for them as it waits for an async handler or
predicate, so that they may ask the browser; an `async def` callback is passed as it is.

Waits are Playwright's: actions wait until their element is attached, visible, stable,
enabled and receives events (its actionability checks); `expect(...)` assertions retry until
they hold; reads such as `count()` and `text_content()` answer at once. Timeouts are the
session's: `action_timeout` for actions and assertions, `navigation_timeout` for navigations.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from harness.touchpoints.web_session import WebSession

#: methods that build a locator without talking to the browser: run where they are called
LOCAL = frozenset(
    {
        "locator",
        "get_by_role",
        "get_by_text",
        "get_by_label",
        "get_by_placeholder",
        "get_by_test_id",
        "get_by_alt_text",
        "get_by_title",
        "frame_locator",
        "nth",
        "filter",
        "and_",
        "or_",
        "describe",
    }
)
#: coroutine methods that only read: no span of their own (they cause no requests)
READS = frozenset(
    {
        "count",
        "text_content",
        "inner_text",
        "inner_html",
        "get_attribute",
        "input_value",
        "is_visible",
        "is_hidden",
        "is_enabled",
        "is_disabled",
        "is_checked",
        "is_editable",
        "all_text_contents",
        "all_inner_texts",
        "all",
        "bounding_box",
        "title",
        "content",
        "text",
        "json",
        "body",
        "all_headers",
        "header_value",
    }
)
#: coroutine methods that wait for a page to load: their timeouts are navigation timeouts
NAVIGATIONS = frozenset(
    {"goto", "reload", "go_back", "go_forward", "wait_for_url", "wait_for_load_state"}
)
#: methods whose effect outlives the iteration in a page or context that is kept: listeners,
#: routes, bindings, init scripts and emulation, none of which `--browser-context reuse`'s
#: clearing undoes; a reused context a journey called one of them on is replaced, not reused
LASTING = frozenset(
    {
        "on",
        "once",
        "route",
        "route_from_har",
        "route_web_socket",
        "expose_function",
        "expose_binding",
        "add_init_script",
        "add_locator_handler",
        "set_extra_http_headers",
        "set_viewport_size",
        "emulate_media",
        "set_offline",
        "set_geolocation",
        "set_http_credentials",
        "set_default_timeout",
        "set_default_navigation_timeout",
    }
)
#: methods taking a callback Playwright calls with its objects: (argument index, keyword)
HANDLERS = {
    "on": (1, "f"),
    "once": (1, "f"),
    "remove_listener": (1, "f"),
    "route": (1, "handler"),
    "unroute": (1, "handler"),
    "route_web_socket": (1, "handler"),
    "expose_function": (1, "callback"),
    "expose_binding": (1, "callback"),
    "add_locator_handler": (1, "handler"),
    "on_message": (0, "handler"),
    "on_close": (0, "handler"),
}
#: methods taking a predicate Playwright calls with its objects, as `HANDLERS`: Playwright awaits
#: what a predicate returns, so one may read the response (`expect_response(lambda r:
#: r.json()["ok"])`), as the sync API's may; a URL predicate (`wait_for_url(lambda url: ...)`)
#: gets a string and answers on the loop
PREDICATES = {
    "expect_event": (1, "predicate"),
    "wait_for_event": (1, "predicate"),
    "expect_response": (0, "url_or_predicate"),
    "expect_request": (0, "url_or_predicate"),
    "expect_request_finished": (0, "predicate"),
    "expect_console_message": (0, "predicate"),
    "expect_popup": (0, "predicate"),
    "expect_page": (0, "predicate"),
    "expect_download": (0, "predicate"),
    "expect_file_chooser": (0, "predicate"),
    "expect_websocket": (0, "predicate"),
    "expect_worker": (0, "predicate"),
}
CALLBACKS = {**HANDLERS, **PREDICATES}


def unwrap(value: Any) -> Any:
    """Playwright's own object behind a `Sync` (and inside lists, tuples and dicts)."""
    if isinstance(value, Sync):
        return value._target
    if isinstance(value, list | tuple):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def call_label(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`get_by_role('button', name='Buy')`: a call as it reads in code."""
    shown = [repr(unwrap(a)) if not isinstance(a, Sync) else a._label for a in args]
    shown += [f"{k}={v._label if isinstance(v, Sync) else repr(v)}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(shown)})"
    return text if len(text) <= 160 else text[:156] + "...)"


def missing(target: Any, label: str, name: str) -> str:
    """Why `label.name` failed: Playwright's object has no such name (and the closest it has)."""
    kind = type(target).__name__
    known = [n for n in dir(target) if not n.startswith("_")]
    close = difflib.get_close_matches(name, known, n=2)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{label}: Playwright's {kind} has no attribute {name!r}{hint}"


class Sync:
    """A synchronous view of one of Playwright's async objects, bound to a `WebSession`."""

    __slots__ = ("_label", "_session", "_target")

    def __init__(self, target: Any, session: WebSession, label: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_label", label)

    def __repr__(self) -> str:
        return f"<sync {self._label}>"

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(self._target, name)
        except AttributeError:
            if name.startswith("__"):  # Python's own probes (`__deepcopy__`, ...)
                raise
            raise AttributeError(
                missing(self._target, self._label, name), name=name, obj=self
            ) from None
        if name == "not_" or not callable(value):  # properties: `first`, `url`, `keyboard`
            return wrap(value, self._session, f"{self._label}.{name}")
        if inspect.iscoroutinefunction(value):
            return self._coroutine_method(name, value)
        return self._plain_method(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._label}: Playwright objects cannot be given attributes")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sync) and other._target == self._target

    def __hash__(self) -> int:
        return hash(self._target)

    def __bool__(self) -> bool:  # `if page.query_selector(...):`, as Playwright's objects answer
        return bool(self._target)

    def _callbacks(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """`args`, `kwargs` with the callback of a `CALLBACKS` method made `sync_handler`'s."""
        where = CALLBACKS.get(name)
        if where is None:
            return args, kwargs
        index, keyword = where
        keep = name in HANDLERS  # nothing removes a predicate: its wrapper is not kept
        if len(args) > index and callable(args[index]):
            handler = sync_handler(self._session, args[index], keep=keep)
            return (*args[:index], handler, *args[index + 1 :]), kwargs
        if callable(kwargs.get(keyword)):
            handler = sync_handler(self._session, kwargs[keyword], keep=keep)
            return args, {**kwargs, keyword: handler}
        return args, kwargs

    def _plain_method(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        session = self._session

        def call(*args: Any, **kwargs: Any) -> Any:
            label = f"{self._label}.{call_label(name, args, kwargs)}"
            if name in LASTING:
                session.lasting.append(label)
            args, kwargs = self._callbacks(name, args, kwargs)
            if name in LOCAL:
                result = method(*unwrap(args), **unwrap(kwargs))
            else:  # e.g. set_default_timeout: it talks to the driver, so on the loop

                async def on_loop() -> Any:
                    return method(*unwrap(args), **unwrap(kwargs))

                result = session.host.call(on_loop())
            if hasattr(result, "__aenter__"):  # `with page.expect_popup() as info:`
                return SyncEvent(result, session, label)
            return wrap(result, session, label)

        return call

    def _coroutine_method(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        session = self._session

        def call(*args: Any, **kwargs: Any) -> Any:
            label = f"{self._label}.{call_label(name, args, kwargs)}"
            if name in LASTING:
                session.lasting.append(label)
            args, kwargs = self._callbacks(name, args, kwargs)
            navigation = name in NAVIGATIONS
            awaitable = method(*unwrap(args), **unwrap(kwargs))
            guarded = session.guarded(awaitable, label, navigation=navigation)
            if name in READS:
                result = session.host.call(guarded)
            else:
                result = session.act_on(name, label, guarded)
            return wrap(result, session, label)

        return call


class SyncEvent:
    """Playwright's event waits (`expect_popup`, `expect_navigation`, `expect_response`, ...)
    as codegen writes them: `with page.expect_popup() as info:` ... `popup = info.value`."""

    def __init__(self, manager: Any, session: WebSession, label: str) -> None:
        self._manager = manager
        self._session = session
        self._label = label
        self._info: Any = None

    def __enter__(self) -> SyncEvent:
        self._info = self._session.host.call(self._manager.__aenter__())
        return self

    def __exit__(self, *exc: Any) -> None:
        waited = self._session.guarded(self._manager.__aexit__(*exc), self._label, navigation=False)
        self._session.host.call(waited)

    @property
    def value(self) -> Any:
        """What the event gave (a page, a response, ...), once the `with` block has ended."""

        async def get() -> Any:
            return await self._info.value

        return wrap(self._session.host.call(get()), self._session, f"{self._label}.value")

    def is_done(self) -> bool:
        """Whether the event has happened yet."""
        return bool(self._info.is_done())


def playwright_types() -> tuple[type, ...]:
    """The classes whose objects `wrap` wraps: every object of Playwright's async API."""
    from playwright._impl._async_base import AsyncBase

    return (AsyncBase,)


def wrap(value: Any, session: WebSession, label: str) -> Any:
    """`value` as the caller should see it: Playwright's objects as `Sync`, a list of them
    (`all()`, `frames`) as a list of `Sync`, anything else as it is (one level deep only: what
    `evaluate` returns may hold itself, as a `window` does)."""
    types = playwright_types()
    if isinstance(value, types):
        return Sync(value, session, label)
    if isinstance(value, list):
        return [
            Sync(v, session, f"{label}[{i}]") if isinstance(v, types) else v
            for i, v in enumerate(value)
        ]
    return value


def handler_argument(value: Any, session: WebSession) -> Any:
    """An argument Playwright gives a callback, wrapped (`expose_binding`'s `source` is a dict
    of the page, frame and context)."""
    if isinstance(value, dict):
        return {k: wrap(v, session, f"source[{k!r}]") for k, v in value.items()}
    return wrap(value, session, type(value).__name__.lower())


def sync_handler(
    session: WebSession, handler: Callable[..., Any], *, keep: bool = True
) -> Callable[..., Any]:
    """`handler` as Playwright's async API calls it: a coroutine that runs `handler` off the
    browser loop (`BrowserHost.spawn`) with `Sync` arguments and waits for it, so that what it
    calls (`dialog.accept()`, `route.fulfill(...)`) waits on the loop like any journey line.
    With `keep`, the same handler gives the same wrapper (`remove_listener`, `unroute` find
    it); an `async def` handler is Playwright's already and is returned as it is."""
    if inspect.iscoroutinefunction(handler):
        return handler
    if not keep:
        return _off_loop(session, handler)
    try:
        return cast("Callable[..., Any]", session._handlers[handler])
    except (KeyError, TypeError):  # TypeError: an unhashable callable, wrapped each time
        pass
    on_loop = _off_loop(session, handler)
    with contextlib.suppress(TypeError):  # unhashable: wrapped again next time
        session._handlers[handler] = on_loop
    return on_loop


def _off_loop(session: WebSession, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`sync_handler`'s wrapper of `handler`, made anew."""

    # Playwright passes a handler as many arguments as its signature takes: `wraps` shows it
    @functools.wraps(handler)
    async def on_loop(*args: Any) -> Any:
        done: Future[Any] = Future()

        def run() -> None:
            try:
                shown = [handler_argument(a, session) for a in args]
                done.set_result(handler(*shown))
            except BaseException as exc:  # handed to Playwright as an async handler's error
                done.set_exception(exc)

        session.host.spawn(run)
        return await asyncio.wrap_future(done)

    return on_loop
