"""`synth KIND --count N ...`: write synthetic records as JSON Lines or CSV.

Mounted by the harness as `harness synth ...` (see `add_arguments` and `run`) and runnable as
`python -m synth`. The output depends only on the arguments: the same command prints the same
bytes in every process, on every run. Bad input prints one line to stderr and returns 2.

`synth seed` and `synth cleanup` create synthetic accounts on a target and remove them again
(see `synth.seeding`): exit 0 when every account was handled, 1 when some failed, 2 for bad
input, 3 when the target is unavailable or the run was interrupted. This module reads no
`harness.toml`: `harness synth` (`harness/commands/synth.py`) loads it once and passes its
settings and target names in as `SeedSettings`; `python -m synth` knows targets by URL only.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness.errors import TargetUnavailable, UsageError
from harness.exitcodes import ExitCode
from synth.errors import SynthUsageError

if TYPE_CHECKING:
    from harness.targets import Target
    from synth.models import SynthModel

_CONFIG_HELP = "harness.toml (`harness synth` only; default: found from the current folder)"
KIND_CHOICES = ("address", "card", "device", "order", "person", "product")
TARGET_COMMANDS = ("seed", "cleanup")
EXIT_OK = 0
EXIT_FAILED = int(ExitCode.FAILED)
EXIT_USAGE = 2
EXIT_UNAVAILABLE = int(ExitCode.HARNESS_ERROR)


def url_target(spec: str) -> Target:
    """A target from a base URL laid out as the sandbox; a name is refused (names live in
    harness.toml, which `harness synth` reads)."""
    if "://" not in spec:
        raise SynthUsageError(
            f"unknown target {spec!r}: without harness.toml a target is a base URL such as "
            "http://127.0.0.1:8800 (`harness synth seed` also knows harness.toml's names)"
        )
    from harness.targets import Target  # pydantic: not on `import synth.cli`

    return Target.from_base_url(spec)


@dataclass(frozen=True)
class SeedSettings:
    """What `seed` and `cleanup` take from the harness's configuration: where manifests go,
    the default profile, locale and request timeout, and how a `--target` is resolved.
    `source` names the configuration file (None: built-in defaults)."""

    results: Path = Path("results")
    profile: str = "default"
    locale: str = "en_US"
    timeout: float = 10.0
    source: str | None = None
    resolve: Callable[[str], Target] = url_target


#: settings for a `--config` value (None: none given); raises `UsageError`
SettingsLoader = Callable[[str | None], SeedSettings]


def no_config(path: str | None) -> SeedSettings:
    """The settings of `python -m synth`, which reads no harness.toml."""
    if path is not None:
        raise SynthUsageError(
            f"--config {path}: python -m synth reads no harness.toml; run `harness synth` for "
            "a configured target"
        )
    return SeedSettings(results=Path.cwd() / "results")


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


def main(
    argv: list[str] | None = None, *, prog: str = "synth", settings: SettingsLoader = no_config
) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input).

    `prog` names the command in usage and error messages (the harness passes "harness synth").
    `seed` and `cleanup` as the first argument run those commands (exit codes 0, 1, 2, 3),
    with `settings(--config)`: the harness passes harness.toml's, read once.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["seed"] or argv[:1] == ["cleanup"]:
        return _target_command(argv[0], argv[1:], prog, settings)
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
    parser.add_argument("--config", help=_CONFIG_HELP)
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
    parser.add_argument("--config", help=_CONFIG_HELP)
    return parser


def _target_command(command: str, argv: list[str], prog: str, settings: SettingsLoader) -> int:
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
        loaded = settings(args.config)
        if command == "seed":
            return _seed(args, loaded)
        return _cleanup(args, loaded, Path(args.manifest), name)
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


def _seed(args: argparse.Namespace, settings: SeedSettings) -> int:
    from synth import seeding
    from synth.seed_manifest import default_manifest_path

    target = settings.resolve(args.target)
    if target.production:
        raise SynthUsageError(
            f"target {target.name!r} is marked `production = true` in {settings.source}; "
            "synth seed does not create accounts in production"
        )
    if args.manifest is None:
        args.manifest = str(default_manifest_path(settings.results))
    manifest = Path(args.manifest)
    result = seeding.seed_target(
        target,
        args.people,
        manifest=manifest,
        seed=args.seed,
        worker=seeding.SEED_WORKER if args.worker is None else args.worker,
        profile=args.profile or settings.profile,
        locale=args.locale or settings.locale,
        timeout=settings.timeout,
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


def _cleanup(args: argparse.Namespace, settings: SeedSettings, manifest: Path, name: str) -> int:
    from synth import seeding
    from synth.seed_manifest import read_manifest

    api_url = settings.resolve(args.target).api if args.target else None
    read = read_manifest(manifest)
    for warning in read.warnings:
        print(f"{name}: warning: {warning}", file=sys.stderr)
    result = seeding.cleanup_manifest(
        read, api_url=api_url, timeout=settings.timeout, progress=sys.stderr
    )
    print(result.summary(), flush=True)
    for line in seeding.describe_failures(result.failures):
        print(line, file=sys.stderr)
    return EXIT_OK if result.failed == 0 else EXIT_FAILED


def _resume_hint(command: str, manifest: str | None) -> str:
    if command == "cleanup":
        return "; cleanup is safe to run again"
    if manifest is None or not Path(manifest).is_file():
        return ""
    return f"; {manifest} lists the accounts created so far: `cleanup --manifest {manifest}`"
