"""`synth KIND --count N ...`: write synthetic records as JSON Lines or CSV.

Mounted by the harness as `harness synth ...` (see `add_arguments` and `run`) and runnable as
`python -m synth`. The output depends only on the arguments: the same command prints the same
bytes in every process, on every run. Bad input prints one line to stderr and returns 2.

`synth seed` and `synth cleanup` create synthetic accounts on a target and remove them again
(see `synth.seeding`): exit 0 when every account was handled, 1 when some failed, 2 for bad
input, 3 when the target is unavailable or the run was interrupted.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness.errors import TargetUnavailable, UsageError
from harness.exitcodes import ExitCode
from synth.errors import SynthUsageError

if TYPE_CHECKING:
    from harness.config import LoadedConfig
    from harness.targets import Target
    from synth.models import SynthModel

KIND_CHOICES = ("address", "card", "device", "order", "person", "product")
TARGET_COMMANDS = ("seed", "cleanup")
EXIT_OK = 0
EXIT_FAILED = int(ExitCode.FAILED)
EXIT_USAGE = 2
EXIT_UNAVAILABLE = int(ExitCode.HARNESS_ERROR)


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
        description=(
            "Generate seeded, unique synthetic data as JSON Lines or CSV. "
            f"`{prog} seed -h` and `{prog} cleanup -h`: create synthetic accounts on a target "
            "and remove them again."
        ),
        epilog="example: synth person --count 1000 --seed 7 --format jsonl",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None, *, prog: str = "synth") -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input).

    `prog` names the command in usage and error messages (the harness passes "harness synth").
    `seed` and `cleanup` as the first argument run those commands (exit codes 0, 1, 2, 3).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["seed"] or argv[:1] == ["cleanup"]:
        return _target_command(argv[0], argv[1:], prog)
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


# -- seed and cleanup ----------------------------------------------------------------------


def build_seed_parser(prog: str = "synth seed") -> argparse.ArgumentParser:
    """The parser of `synth seed`."""
    parser = _Parser(
        prog=prog,
        description=(
            "Create N synthetic accounts on a target through its JSON API and list them "
            "(with their passwords) in a JSON Lines manifest; prints the manifest's path. "
            "Running it again with the same arguments finds the accounts `existing`."
        ),
        epilog="example: harness synth seed --target http://127.0.0.1:8800 --people 1000 --seed 7",
    )
    parser.add_argument(
        "--target",
        required=True,
        help="a target name from harness.toml, or a base URL (JSON API at URL/api/v1)",
    )
    parser.add_argument("--people", type=int, required=True, help="how many accounts")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--worker",
        type=int,
        help="worker index of the people (default 1000000: never one of a load run's workers)",
    )
    parser.add_argument(
        "--profile", choices=("default", "edge"), help="synth profile (default: config's)"
    )
    parser.add_argument("--locale", help="Faker locale (default: config's, else en_US)")
    parser.add_argument(
        "--manifest", help="where to write the manifest (default RESULTS/seed-<timestamp>.jsonl)"
    )
    parser.add_argument("--config", help="harness.toml (default: found from the current folder)")
    return parser


def build_cleanup_parser(prog: str = "synth cleanup") -> argparse.ArgumentParser:
    """The parser of `synth cleanup`."""
    parser = _Parser(
        prog=prog,
        description=(
            "Delete the accounts a `seed` manifest lists (log in, then DELETE /users/{id}). "
            "Accounts already gone count as removed, so it is safe to run again."
        ),
        epilog="example: harness synth cleanup --manifest results/seed-20260101T120000Z.jsonl",
    )
    parser.add_argument("--manifest", required=True, help="the manifest `seed` wrote")
    parser.add_argument(
        "--target", help="send the requests to this target instead of the manifest's API URL"
    )
    parser.add_argument("--config", help="harness.toml (default: found from the current folder)")
    return parser


def _target_command(command: str, argv: list[str], prog: str) -> int:
    name = f"{prog} {command}"
    parser = build_seed_parser(name) if command == "seed" else build_cleanup_parser(name)
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(f"{exc}\n(see {parser.prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help exits through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        if command == "seed":
            return _seed(args)
        return _cleanup(args, Path(args.manifest), name)
    except UsageError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TargetUnavailable as exc:
        print(
            f"{name}: target unavailable: {exc}{_resume_hint(command, args.manifest)}",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        print(f"{name}: interrupted{_resume_hint(command, args.manifest)}", file=sys.stderr)
        return EXIT_UNAVAILABLE


def _seed(args: argparse.Namespace) -> int:
    from synth import seeding
    from synth.seed_manifest import default_manifest_path

    loaded = _load_config(args.config)
    target = _resolve_target(args.target, loaded)
    if target.production:
        raise SynthUsageError(
            f"target {target.name!r} is marked `production = true` in {loaded.source}; "
            "synth seed does not create accounts in production"
        )
    config = loaded.config
    if args.manifest is None:
        args.manifest = str(default_manifest_path(loaded.root / config.results))
    manifest = Path(args.manifest)
    result = seeding.seed_target(
        target,
        args.people,
        manifest=manifest,
        seed=args.seed,
        worker=seeding.SEED_WORKER if args.worker is None else args.worker,
        profile=args.profile or config.profile,
        locale=args.locale or config.locale,
        timeout=config.request_timeout,
        progress=sys.stderr,
    )
    print(result.manifest, flush=True)
    print(
        f"seeded {args.people} people into {target.api}: created {result.created}, "
        f"existing {result.existing}, failed {result.failed} "
        f"in {result.seconds:.1f} s ({result.rate:.0f} people/s)",
        file=sys.stderr,
    )
    for line in seeding.describe_failures(result.failures):
        print(line, file=sys.stderr)
    return EXIT_OK if result.failed == 0 else EXIT_FAILED


def _cleanup(args: argparse.Namespace, manifest: Path, name: str) -> int:
    from synth import seeding
    from synth.seed_manifest import read_manifest

    loaded = _load_config(args.config)
    api_url = _resolve_target(args.target, loaded).api if args.target else None
    read = read_manifest(manifest)
    for warning in read.warnings:
        print(f"{name}: warning: {warning}", file=sys.stderr)
    result = seeding.cleanup_manifest(
        read, api_url=api_url, timeout=loaded.config.request_timeout, progress=sys.stderr
    )
    print(result.summary(), flush=True)
    for line in seeding.describe_failures(result.failures):
        print(line, file=sys.stderr)
    return EXIT_OK if result.failed == 0 else EXIT_FAILED


def _load_config(path: str | None) -> LoadedConfig:
    from harness.config import load_config

    return load_config(Path(path) if path else None)


def _resolve_target(spec: str, loaded: LoadedConfig) -> Target:
    """A configured target by name, else a base URL laid out as the sandbox."""
    from harness.targets import Target

    targets = loaded.config.targets
    if spec in targets:
        return targets[spec].resolve(spec)
    if "://" not in spec:
        import difflib

        close = difflib.get_close_matches(spec, list(targets), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if loaded.source is None:
            known = "no harness.toml found, so no target names are configured"
        else:
            known = f"targets in {loaded.source}: {', '.join(sorted(targets)) or 'none'}"
        raise SynthUsageError(
            f"unknown target {spec!r}{hint} ({known}); give a configured name or a base URL "
            "such as http://127.0.0.1:8800"
        )
    return Target.from_base_url(spec)


def _resume_hint(command: str, manifest: str | None) -> str:
    if command == "cleanup":
        return "; cleanup is safe to run again"
    if manifest is None or not Path(manifest).is_file():
        return ""
    return f"; {manifest} lists the accounts created so far: `cleanup --manifest {manifest}`"
