"""`harness import har|access-log`: journeys and workload models from recorded traffic."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from harness.errors import UsageError
from harness.exitcodes import ExitCode

_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`harness import` and its two kinds of recording."""
    parser = commands.add_parser(
        "import", help="a journey from a HAR, a workload model from access logs"
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    har = kinds.add_parser("har", help="a browser recording (HAR) becomes a journey module")
    har.add_argument("file", type=Path, metavar="FILE.har")
    har.add_argument("--name", help="the journey's name (default: from the file's name)")
    har.add_argument(
        "--target", metavar="T", help="target (name or URL) whose web/api/mobile bases to use"
    )
    har.add_argument("--config", type=Path, metavar="PATH", help="harness.toml to read")
    har.add_argument(
        "-o", "--output", type=Path, metavar="PATH", help="where to write (journeys/NAME.py)"
    )
    har.add_argument("--keep-static", action="store_true", help="keep styles, scripts, images")
    har.add_argument(
        "--keep-third-party", action="store_true", help="keep hosts outside the target's bases"
    )
    har.add_argument(
        "--gap", default="1s", metavar="DURATION", help="a pause this long starts a step (1s)"
    )
    har.set_defaults(handler=run_har)
    from harness.commands.import_log import add_arguments as add_log_arguments

    log = kinds.add_parser("access-log", help="access logs become a workload model (workload.toml)")
    add_log_arguments(log)


def journey_name(text: str) -> str:
    """A journey and function name from `text`: lower case, `_` between words."""
    name = _NOT_NAME.sub("_", text.lower()).strip("_") or "imported"
    return name if name[0].isalpha() else f"har_{name}"


def run_har(options: argparse.Namespace) -> int:
    """Write the journey module of a HAR."""
    from harness.config import load_config
    from harness.durations import parse_duration
    from harness.importers.har_code import import_har
    from harness.run.targets import resolve_named_target

    name = journey_name(options.name or options.file.stem)
    if options.name and name != options.name:
        raise UsageError(
            f"--name {options.name!r}: a journey imported from a HAR is also a Python function; "
            f"use letters, digits and '_' (e.g. {name!r})"
        )
    target = None
    if options.target:
        config = load_config(options.config).config
        target = resolve_named_target(options.target, config)
    gap = parse_duration(options.gap, what="--gap")
    imported = import_har(
        options.file,
        name=name,
        target=target,
        keep_static=options.keep_static,
        keep_third_party=options.keep_third_party,
        gap_s=gap,
    )
    output = options.output or (
        Path("journeys") / f"{name}.py" if Path("journeys").is_dir() else Path(f"{name}.py")
    )
    try:
        output.write_text(imported.source, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    dropped = imported.dropped
    print(
        f"wrote {output}: journey `{name}`, {imported.steps} steps, {imported.requests} requests "
        f"(left out {dropped.static} static, {dropped.third_party} third-party, "
        f"{dropped.unanswered} unanswered)"
    )
    if imported.env:
        print(f"set before running it: {', '.join(imported.env)} (secrets of the recording)")
    return ExitCode.PASSED
