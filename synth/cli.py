"""`synth KIND --count N ...`: write synthetic records as JSON Lines or CSV.

Mounted by the harness as `harness synth ...` (see `add_arguments` and `run`) and runnable as
`python -m synth`. The output depends only on the arguments: the same command prints the same
bytes in every process, on every run. Bad input prints one line to stderr and returns 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from synth.errors import SynthUsageError

if TYPE_CHECKING:
    from synth.models import SynthModel

KIND_CHOICES = ("address", "card", "device", "order", "person", "product")
EXIT_OK = 0
EXIT_USAGE = 2


class _ArgumentError(Exception):
    """argparse found bad arguments; carries its message instead of exiting the process."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(f"{self.prog}: {message}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the synth options on `parser` (for mounting under another command line)."""
    parser.add_argument("kind", choices=KIND_CHOICES, help="what to generate")
    parser.add_argument("--count", type=int, required=True, help="how many records")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--profile", choices=("default", "edge"), default="default")
    parser.add_argument("--locale", default="en_US", help="Faker locale (default en_US)")
    parser.add_argument("--worker", type=int, default=0, help="worker index (default 0)")
    parser.add_argument(
        "--unsupported-share",
        type=float,
        default=0.0,
        help="devices only: share on an app version below 3.0.0 (0..1, default 0)",
    )
    parser.add_argument("--output", "-o", help="write to FILE instead of standard output")


def build_parser(prog: str = "synth") -> argparse.ArgumentParser:
    """The stand-alone parser of `python -m synth`."""
    parser = _Parser(
        prog=prog,
        description="Generate seeded, unique synthetic data as JSON Lines or CSV.",
        epilog="example: synth person --count 1000 --seed 7 --format jsonl",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None, *, prog: str = "synth") -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input).

    `prog` names the command in usage and error messages (the harness passes "harness synth").
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(f"{exc}\n(see {parser.prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    return run(args, prog=prog)


def run(args: argparse.Namespace, *, prog: str = "synth") -> int:
    """Generate and write what parsed `args` ask for; returns the exit code (0 or 2)."""
    from pydantic import ValidationError

    from synth.factory import generate
    from synth.profiles import DeviceMix

    try:
        if args.count < 0:
            raise SynthUsageError(f"--count must be >= 0, got {args.count}")
        try:
            mix = DeviceMix(unsupported_share=args.unsupported_share)
        except ValidationError:
            raise SynthUsageError(
                f"--unsupported-share must be between 0 and 1, got {args.unsupported_share}"
            ) from None
        records = generate(
            args.kind,
            args.count,
            args.seed,
            worker=args.worker,
            profile=args.profile,
            locale=args.locale,
            device_mix=mix,
        )
        with _output(args.output) as write:
            if args.format == "csv":
                _write_csv(records, write)
            else:
                for record in records:
                    write(record.model_dump_json() + "\n")
    except SynthUsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader (`| head`) went away: not an error; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[Callable[[str], object]]:
    """A writer of UTF-8 text with "\\n" line ends, whatever the platform and locale."""
    if path is not None:
        try:
            file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SynthUsageError(f"cannot write --output {path!r}: {exc.strerror}") from None
        with file:
            yield file.write
        return
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream, such as a test's StringIO
        yield sys.stdout.write
        return
    sys.stdout.flush()
    yield lambda text: buffer.write(text.encode("utf-8"))
    buffer.flush()


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """One CSV row of a dumped model: nested keys joined with '.', lists as compact JSON."""
    row: dict[str, str] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            row[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            row[name] = "" if value is None else str(value)
    return row


def _write_csv(records: Iterator[SynthModel], write: Callable[[str], object]) -> None:
    text = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for record in records:
        row = flatten(record.model_dump(mode="json"))
        if writer is None:
            writer = csv.DictWriter(text, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow(row)
        write(text.getvalue())
        text.seek(0)
        text.truncate()
