"""The journey DSL: `@journey` on a plain function taking one context, and journey discovery."""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeAlias

from harness.errors import JourneyLoadError, SpecError
from harness.think import ThinkTime, parse_think

if TYPE_CHECKING:
    from harness.runtime import JourneyContext

JourneyFunction: TypeAlias = "Callable[[JourneyContext], None]"

_ATTRIBUTE = "__harness_journey__"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Journey:
    """A declared journey: the function plus how the engine should schedule it."""

    name: str
    func: Callable[[JourneyContext], None]
    weight: int = 1
    tags: frozenset[str] = field(default_factory=frozenset)
    device: str | None = None
    module: str = ""
    description: str = ""
    browser: bool | None = None
    think: ThinkTime | None = None  #: the pause between steps at load (`harness.think`)
    routes: tuple[str, ...] = ()  #: request paths it sends, for `harness import access-log`

    @property
    def uses_browser(self) -> bool:
        """Whether iterations open Chromium: as declared, else whether the function touches
        `j.web` (an attribute it names in its code)."""
        if self.browser is not None:
            return self.browser
        code = getattr(self.func, "__code__", None)
        return code is not None and _names_attribute(code, "web")

    @property
    def location(self) -> str:
        """`file:line` of the journey function, for error messages."""
        code = getattr(self.func, "__code__", None)
        if code is None:
            return self.module
        return f"{code.co_filename}:{code.co_firstlineno}"


def journey(
    func: Callable[[JourneyContext], None] | None = None,
    *,
    name: str | None = None,
    weight: int = 1,
    tags: Iterable[str] = (),
    device: str | None = None,
    browser: bool | None = None,
    think: str | None = None,
    routes: Iterable[str] = (),
) -> Any:
    """Declare a journey. Use bare (`@journey`) or with options (`@journey(weight=3)`).

    `weight` sets the journey's share of virtual users at load, `tags` are matched by `-k`,
    `device` names a Playwright device descriptor used to emulate a phone for web steps.
    `browser` says whether the journey opens Chromium (detected from `j.web` when omitted); web
    journeys are capped per load process by `--browser-users`. `think` is the pause between
    steps at load (`"2s"`, `"lognormal(median=2s, p95=8s)"`, see `harness.think`; never in
    smoke), `routes` the request paths it sends (`"GET /orders/{id}"` or `"/orders/*"`), which
    `harness import access-log` matches sessions against.
    Raises `JourneyLoadError` for an invalid name or weight.
    """

    def decorate(f: Callable[[JourneyContext], None]) -> Callable[[JourneyContext], None]:
        journey_name = name or f.__name__
        if not _NAME.match(journey_name):
            raise JourneyLoadError(
                f"journey name {journey_name!r} in {f.__module__} is not allowed: use letters, "
                "digits, '_', '-' and '.', starting with a letter (e.g. 'browse_and_buy')"
            )
        if not isinstance(weight, int) or weight < 1:
            raise JourneyLoadError(
                f"journey {journey_name!r}: weight must be a positive integer, got {weight!r}"
            )
        try:
            pause = None if think is None else parse_think(think)
        except SpecError as exc:
            raise JourneyLoadError(f"journey {journey_name!r}: {exc}") from None
        spec = Journey(
            name=journey_name,
            func=f,
            weight=weight,
            tags=frozenset(tags),
            device=device,
            browser=browser,
            think=pause,
            routes=tuple(routes),
            module=f.__module__,
            description=(f.__doc__ or "").strip().split("\n")[0],
        )
        setattr(f, _ATTRIBUTE, spec)
        return f

    if func is not None:
        return decorate(func)
    return decorate


def _names_attribute(code: CodeType, name: str) -> bool:
    if name in code.co_names:
        return True
    return any(isinstance(c, CodeType) and _names_attribute(c, name) for c in code.co_consts)


def journeys_in(namespace: dict[str, Any]) -> list[Journey]:
    """The journeys declared in a module namespace, in definition order."""
    found = [getattr(v, _ATTRIBUTE) for v in namespace.values() if hasattr(v, _ATTRIBUTE)]
    return [j for j in found if isinstance(j, Journey)]


def discover(paths: Sequence[Path]) -> list[Journey]:
    """Import every journey module under `paths` (files or folders) and return their journeys.

    Modules whose name starts with `_` are skipped. Raises `JourneyLoadError` naming the file and
    line when a module does not import, and when two journeys share a name.
    """
    files: list[Path] = []
    for path in paths:
        # Journey modules import their siblings (shared contract models) by plain name, as
        # pytest's rootdir-relative imports let test modules do.
        folder = str((path if path.is_dir() else path.parent).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*.py")) if not p.name.startswith("_"))
        elif path.is_file():
            files.append(path)
        else:
            raise JourneyLoadError(f"journey path {str(path)!r} does not exist")
    journeys: dict[str, Journey] = {}
    for file in files:
        for spec in _load_module(file):
            if spec.name in journeys:
                raise JourneyLoadError(
                    f"two journeys are named {spec.name!r}: {journeys[spec.name].location} and "
                    f"{spec.location}; pass name= to @journey to tell them apart"
                )
            journeys[spec.name] = spec
    return list(journeys.values())


def _load_module(file: Path) -> list[Journey]:
    module_name = "harness_journeys." + "_".join(file.resolve().with_suffix("").parts[-3:])
    module_name = re.sub(r"[^A-Za-z0-9_.]", "_", module_name)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise JourneyLoadError(f"cannot import journey module {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise JourneyLoadError(
            f"journey module {exc.filename}:{exc.lineno} has a syntax error: {exc.msg}"
        ) from None
    except JourneyLoadError:
        sys.modules.pop(module_name, None)
        raise
    except Exception as exc:
        sys.modules.pop(module_name, None)
        frame = _last_frame_in(file, exc)
        raise JourneyLoadError(
            f"journey module {frame} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    return journeys_in(vars(module))


def _last_frame_in(file: Path, exc: BaseException) -> str:
    """`file:line` of the deepest traceback frame inside `file`, else just the file."""
    location = str(file)
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == file.resolve():
            location = f"{frame.filename}:{frame.lineno}"
    return location


def select(journeys: Sequence[Journey], expression: str | None) -> list[Journey]:
    """Journeys matching a `-k` expression (see `harness.selection`), all when it is empty."""
    if not expression:
        return list(journeys)
    from harness.selection import KeywordExpression

    matcher = KeywordExpression.compile(expression)
    return [j for j in journeys if matcher.matches({j.name, *j.tags})]
