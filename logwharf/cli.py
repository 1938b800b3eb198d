"""``logwharf`` command line. Every option can also come from the environment variable
named in its help; credentials come only from the environment, never from flags, so that
they do not show in ``ps`` or shell history.

Exit codes: 0 every event indexed, deliberately dropped or already present; 1 something was
dead-lettered, not delivered, or a file could not be read; 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logwharf import __version__

if TYPE_CHECKING:
    from pydantic import ValidationError

    from logwharf.elk.config import EsConfig

# The heavy modules (aiohttp, pydantic, the runtime) are imported where a command runs, not
# here: worker processes are spawned and import the main module, and this is it. They only
# need the work they do, not an HTTP client (it costs each ~0.5 s of CPU and ~30 MB).

__all__ = ["main"]

EXIT_OK, EXIT_TROUBLE, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("logwharf")


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(name, default)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logwharf",
        description="Ship Docker container logs and log files into Elasticsearch.",
    )
    parser.add_argument("--version", action="version", version=f"logwharf {__version__}")
    parser.add_argument(
        "--log-level",
        default=_env("LOGWHARF_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="logwharf's own messages on stderr (env LOGWHARF_LOG_LEVEL)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rp = commands.add_parser(
        "replay",
        help="replay log files (Docker json-file, NDJSON, text, .gz)",
        description="Replay log files through the default processor into Elasticsearch, "
        "or as NDJSON to stdout when no --es is given.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Credentials come from the environment only: LOGWHARF_ES_USERNAME and "
        "LOGWHARF_ES_PASSWORD, or LOGWHARF_ES_API_KEY.\n\n"
        "exit codes: 0 all indexed, dropped on purpose or already present; 1 something was "
        "dead-lettered,\n  not delivered, or a file could not be read; 2 usage or "
        "configuration error",
    )
    rp.add_argument("paths", nargs="*", metavar="PATH", help="files, directories or glob patterns")
    rp.add_argument(
        "--sample", action="store_true", help="replay the sample Docker log bundled with logwharf"
    )
    _add_output_options(rp)
    rp.add_argument(
        "--workers",
        type=_positive_int,
        default=_env("LOGWHARF_WORKERS", str(min(os.cpu_count() or 1, 8))),
        metavar="N",
        help="processes that decode, process and encode (env LOGWHARF_WORKERS; default: one "
        "per CPU, %(default)s here; inputs under 16 MiB are done in one)",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    _add_run_parser(commands)
    check = commands.add_parser(
        "check-config",
        help="check configuration files and report every problem (exit 2 if any)",
        description="Load and validate each FILE as `run` and `replay` would, compiling every "
        "pattern; print every problem with its line, column and key. Exit 0 when all are "
        "fine, 2 when any is not.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    test = commands.add_parser(
        "test",
        help="run pipeline unit tests declared in YAML (NAME.test.yaml)",
        description="Run the pipeline tests of each FILE (or of every *.test.yaml in a "
        "directory): input events through the configured stages, compared with the expected "
        "events. Exit 0 all passed, 1 a test failed, 2 a file is invalid.",
    )
    test.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return parser


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """Where events go, and how long one may be: the same for ``replay`` and ``run``."""
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=_env("LOGWHARF_CONFIG") or None,
        metavar="FILE",
        help="the YAML configuration: pipeline stages, elasticsearch and run settings; "
        "flags and LOGWHARF_* variables win over it (env LOGWHARF_CONFIG)",
    )
    parser.add_argument(
        "--max-event-bytes",
        type=_positive_int,
        default=_env("LOGWHARF_MAX_EVENT_BYTES", str(1024 * 1024)),
        metavar="N",
        help="longer events are cut and tagged 'truncated' (env "
        "LOGWHARF_MAX_EVENT_BYTES; default %(default)s)",
    )
    parser.add_argument(
        "--es",
        default=_env("LOGWHARF_ES_URL") or None,  # an empty variable is no variable
        metavar="URL",
        help="Elasticsearch URL(s), comma-separated for failover "
        "(env LOGWHARF_ES_URL); without it, events go to stdout",
    )
    parser.add_argument(
        "--index",
        default=_env("LOGWHARF_INDEX"),
        metavar="NAME",
        help="index to write to (env LOGWHARF_INDEX; default: daily "
        "logs-docker-YYYY.MM.DD by each event's @timestamp)",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=_env("LOGWHARF_OUTPUT"),
        metavar="FILE",
        help="without --es: write NDJSON here, not to stdout (env LOGWHARF_OUTPUT)",
    )
    parser.add_argument(
        "--dead-letter-file",
        type=Path,
        metavar="FILE",
        default=Path(_env("LOGWHARF_DEAD_LETTER_FILE", "logwharf-dead-letters.ndjson")),
        help="where refused events go, with the reason (env "
        "LOGWHARF_DEAD_LETTER_FILE; default %(default)s)",
    )
    parser.add_argument(
        "--es-ca-file",
        type=Path,
        default=_env("LOGWHARF_ES_CA_FILE"),
        metavar="FILE",
        help="CA certificate(s) to trust (env LOGWHARF_ES_CA_FILE)",
    )
    parser.add_argument(
        "--es-insecure",
        action="store_true",
        default=_flag("LOGWHARF_ES_INSECURE"),
        help="do not verify the TLS certificate (env LOGWHARF_ES_INSECURE)",
    )
    parser.add_argument(
        "--gzip",
        action="store_true",
        default=_flag("LOGWHARF_ES_GZIP"),
        help="gzip bulk requests (env LOGWHARF_ES_GZIP)",
    )
    parser.add_argument(
        "--batch-events",
        type=_positive_int,
        default=_env("LOGWHARF_BATCH_EVENTS", "5000"),
        metavar="N",
        help="events per bulk request at most (env LOGWHARF_BATCH_EVENTS; default %(default)s)",
    )
    parser.add_argument(
        "--batch-bytes",
        type=_positive_int,
        default=_env("LOGWHARF_BATCH_BYTES", str(5 * 1024 * 1024)),
        metavar="N",
        help="bytes per bulk request at most (env LOGWHARF_BATCH_BYTES; default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=_env("LOGWHARF_CONCURRENCY", "2"),
        metavar="N",
        help="bulk requests in flight at most (env LOGWHARF_CONCURRENCY; default %(default)s)",
    )


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in _env(name, "").split(",") if part.strip()]


def _add_run_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="ship every container's logs live, through the Docker Engine API",
        description="Follow every container on the Docker host (DOCKER_HOST, as the docker "
        "CLI reads it) and ship its logs into Elasticsearch, or as NDJSON to stdout when no "
        "--es is given. Checkpoints in --state-dir make a restart lose and duplicate nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Credentials come from the environment only: LOGWHARF_ES_USERNAME and "
        "LOGWHARF_ES_PASSWORD, or LOGWHARF_ES_API_KEY.\nA container opts out with the label "
        "logwharf.enable=false; logwharf.multiline=off|auto and logwharf.multiline.pattern=RE "
        "set its multiline joining.\n\nexit codes: 0 stopped by SIGTERM/SIGINT after "
        "flushing; 1 a fatal error; 2 usage or configuration error",
    )
    _add_output_options(run)
    run.add_argument(
        "--state-dir",
        type=Path,
        default=Path(_env("LOGWHARF_STATE_DIR", str(Path.home() / ".local/state/logwharf"))),
        metavar="DIR",
        help="where checkpoints are kept (env LOGWHARF_STATE_DIR; default %(default)s)",
    )
    for kind, what in (("name", "container name"), ("image", "image"), ("label", "label")):
        example = "KEY or KEY=VALUE" if kind == "label" else "GLOB"
        for verb in ("include", "exclude"):
            variable = f"LOGWHARF_{verb.upper()}_{kind.upper()}S"
            run.add_argument(
                f"--{verb}-{kind}",
                action="append",
                default=_env_list(variable),
                metavar=example.split()[0] if kind != "label" else "KEY[=VALUE]",
                help=f"{verb} containers by {what} ({example}; repeatable; env {variable}, "
                "comma-separated)",
            )
    run.add_argument(
        "--ship-self",
        action="store_true",
        default=_flag("LOGWHARF_SHIP_SELF"),
        help="also ship the logs of logwharf's own container (env LOGWHARF_SHIP_SELF)",
    )
    run.add_argument(
        "--multiline",
        choices=["auto", "off"],
        default=_env("LOGWHARF_MULTILINE", "auto"),
        help="join stack traces and indented lines into one event (env LOGWHARF_MULTILINE; "
        "default %(default)s)",
    )
    run.add_argument(
        "--multiline-pattern",
        default=_env("LOGWHARF_MULTILINE_PATTERN"),
        metavar="REGEX",
        help="instead: a line matching REGEX starts an event, others continue it "
        "(env LOGWHARF_MULTILINE_PATTERN)",
    )
    run.add_argument(
        "--flush-seconds",
        type=_seconds,
        default=_env("LOGWHARF_FLUSH_SECONDS", "1"),
        metavar="S",
        help="send what was read at least this often (env LOGWHARF_FLUSH_SECONDS; "
        "default %(default)s)",
    )
    run.add_argument(
        "--grace-seconds",
        type=_seconds,
        default=_env("LOGWHARF_GRACE_SECONDS", "10"),
        metavar="S",
        help="on SIGTERM, time to flush what is in flight (env LOGWHARF_GRACE_SECONDS; "
        "default %(default)s)",
    )


def sample_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("logwharf") / "samples" / "sample-json.log"))


def _usage_error(message: str) -> int:
    sys.stderr.write(f"logwharf: error: {message}\n")
    return EXIT_USAGE


def _es_config(args: argparse.Namespace, credentials: dict[str, str] | None = None) -> EsConfig:
    from logwharf.elk.config import EsConfig

    given = credentials or {}

    def secret(name: str) -> Any:  # pydantic makes SecretStr of it
        return _env(name) or given.get(name)

    return EsConfig(
        urls=[url.strip() for url in args.es.split(",") if url.strip()],
        index=args.index,
        username=secret("LOGWHARF_ES_USERNAME"),
        password=secret("LOGWHARF_ES_PASSWORD"),
        api_key=secret("LOGWHARF_ES_API_KEY"),
        ca_file=args.es_ca_file,
        verify_tls=not args.es_insecure,
        gzip=args.gzip,
        batch_events=args.batch_events,
        batch_bytes=args.batch_bytes,
        concurrency=args.concurrency,
        dead_letter_path=args.dead_letter_file,
    )


_ES_FLAGS = {
    "urls": "--es",
    "index": "--index",
    "batch_events": "--batch-events",
    "batch_bytes": "--batch-bytes",
    "concurrency": "--concurrency",
}


def _explain(error: ValidationError, flags: dict[str, str]) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{flags.get(field, field)}: {message}")
    return "; ".join(problems)


def _configure(args: argparse.Namespace) -> tuple[Any, dict[str, str]] | int:
    """The configuration file applied to ``args``: (config or None, credentials it gives),
    or the exit code 2 after its problems were printed."""
    from .config_commands import apply_config, read_config

    config = read_config(args.config)
    if isinstance(config, int):
        return config
    if config is None:
        return None, {}
    defaults = vars(build_parser().parse_args([args.command]))
    return config, apply_config(args, defaults, config, _given(args))


def _given(args: argparse.Namespace) -> set[str]:
    """The options written on the command line: parsed again with every default left out."""
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for item in sub._actions:
                    item.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(args.argv)))


def run_replay(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from logwharf.shipper.inputs import expand_inputs

    from .replay import ReplayOptions, replay
    from .summary import print_summary

    configured = _configure(args)
    if isinstance(configured, int):
        return configured
    config, credentials = configured
    paths = list(args.paths)
    if args.sample:
        paths.append(str(sample_path()))
    if not paths:
        return _usage_error("replay needs at least one PATH (or --sample for the bundled one)")
    if args.es is not None and args.output:
        return _usage_error("--output is for NDJSON without --es; give one or the other")
    es = None
    if args.es is not None:
        if args.dead_letter_file.is_dir():
            return _usage_error(f"--dead-letter-file {args.dead_letter_file}: is a directory")
        if args.es_ca_file is not None and not args.es_ca_file.is_file():
            return _usage_error(f"--es-ca-file {args.es_ca_file}: no such file")
        try:
            es = _es_config(args, credentials)
        except ValidationError as error:
            return _usage_error(_explain(error, _ES_FLAGS))
        if args.es_insecure:
            log.warning("TLS certificates are not verified (--es-insecure)")
    inputs = expand_inputs(paths)
    for problem in inputs.problems:
        log.error("%s", problem)
    if not inputs.files:
        return _usage_error("nothing to replay: no readable log file among the paths given")
    options = ReplayOptions(
        files=inputs.files,
        es=es,
        output=args.output,
        progress=sys.stderr.isatty() and not args.no_progress,
        max_event_bytes=args.max_event_bytes,
        workers=args.workers,
        stages=tuple(config.stages) if config is not None and config.pipeline is not None else None,
    )
    report = asyncio.run(replay(options))
    print_summary(report, sys.stderr)
    return EXIT_TROUBLE if inputs.problems else report.exit_code


def run_live_command(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from logwharf.shipper.checkpoints import CheckpointError
    from logwharf.shipper.docker_api import DockerEndpoint
    from logwharf.shipper.multiline import MultilineConfig
    from logwharf.shipper.selection import Selection, own_container_id

    from .live import LiveOptions, run_live

    configured = _configure(args)
    if isinstance(configured, int):
        return configured
    config, credentials = configured
    if args.es is not None and args.output:
        return _usage_error("--output is for NDJSON without --es; give one or the other")
    try:
        docker = DockerEndpoint.from_env()
    except ValueError as error:
        return _usage_error(str(error))
    try:
        multiline = (
            MultilineConfig(mode="pattern", start_pattern=args.multiline_pattern)
            if args.multiline_pattern
            else MultilineConfig(mode=args.multiline)
        )
    except ValueError as error:
        return _usage_error(f"--multiline-pattern: {error}")
    es = None
    if args.es is not None:
        try:
            es = _es_config(args, credentials)
        except ValidationError as error:
            return _usage_error(_explain(error, _ES_FLAGS))
    pipeline = None
    built: list[Any] = []
    if config is not None and config.pipeline is not None:
        state_dir = args.state_dir

        def pipeline() -> Any:
            from .stage_state import PersistentPipeline

            stages = config.build_pipeline(state_dir=state_dir, read_time=None)
            built.append(PersistentPipeline(stages.stages if stages else []))
            return built[-1]

    options = LiveOptions(
        state_dir=args.state_dir,
        es=es,
        output=args.output,
        docker=docker,
        selection=Selection(
            include_names=args.include_name,
            exclude_names=args.exclude_name,
            include_images=args.include_image,
            exclude_images=args.exclude_image,
            include_labels=args.include_label,
            exclude_labels=args.exclude_label,
            own_id=own_container_id(),
            ship_self=args.ship_self,
        ),
        multiline=multiline,
        max_event_bytes=args.max_event_bytes,
        flush_seconds=args.flush_seconds,
        grace_seconds=args.grace_seconds,
        batch_events=args.batch_events,
        pipeline=pipeline,
    )
    try:
        report = asyncio.run(run_live(options))
    except CheckpointError as error:
        return _usage_error(str(error))
    finally:
        for stages in built:
            stages.close()  # what the fingerprint miner learnt last
    sys.stderr.write(
        f"logwharf: stopped: {report.containers} containers, {report.lines} lines read, "
        f"{report.events} events, {report.skipped} lines skipped as already shipped\n"
    )
    if report.fatal:
        log.error("%s", report.fatal)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="logwharf: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "replay":
        try:
            return run_replay(args)
        except KeyboardInterrupt:
            sys.stderr.write("logwharf: interrupted\n")
            return EXIT_TROUBLE
    if args.command == "run":
        return run_live_command(args)
    if args.command in ("check-config", "test"):
        from .config_commands import check_config_command, test_command

        command = check_config_command if args.command == "check-config" else test_command
        return command(args, sys.stdout, sys.stderr)
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
