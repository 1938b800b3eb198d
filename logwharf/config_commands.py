"""The configuration file on the command line: ``--config`` for ``replay`` and ``run``,
``logwharf check-config`` and ``logwharf test``.

A setting in the file applies unless the run gives it another way: a flag on the command
line, or the ``LOGWHARF_*`` variable named in the flag's help, wins over the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TextIO

from .config import ConfigError, ServiceConfig, load_config

__all__ = ["apply_config", "check_config_command", "read_config", "test_command"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def read_config(path: Path | None, err: TextIO | None = None) -> ServiceConfig | int | None:
    """The configuration at ``path`` (None without one), or exit code 2 after reporting
    every problem in it (to ``err``, by default the stderr of the moment)."""
    if path is None:
        return None
    try:
        return load_config(path)
    except ConfigError as error:
        _report(error, err or sys.stderr)
        return EXIT_USAGE


def _report(error: ConfigError, err: TextIO) -> None:
    for problem in error.problems:
        err.write(f"logwharf: config error: {problem}\n")
    count = len(error.problems)
    err.write(f"logwharf: {count} problem{'s' if count != 1 else ''}; nothing was started\n")


# config section.key -> (argparse dest, environment variable, conversion)
def _url(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


_SETTINGS: dict[tuple[str, str], tuple[str, str, Callable[[Any], Any]]] = {
    ("elasticsearch", "url"): ("es", "LOGWHARF_ES_URL", _url),
    ("elasticsearch", "index"): ("index", "LOGWHARF_INDEX", str),
    ("elasticsearch", "ca_file"): ("es_ca_file", "LOGWHARF_ES_CA_FILE", Path),
    ("elasticsearch", "verify_tls"): ("es_insecure", "LOGWHARF_ES_INSECURE", lambda v: not v),
    ("elasticsearch", "gzip"): ("gzip", "LOGWHARF_ES_GZIP", bool),
    ("elasticsearch", "batch_events"): ("batch_events", "LOGWHARF_BATCH_EVENTS", int),
    ("elasticsearch", "batch_bytes"): ("batch_bytes", "LOGWHARF_BATCH_BYTES", int),
    ("elasticsearch", "concurrency"): ("concurrency", "LOGWHARF_CONCURRENCY", int),
    ("elasticsearch", "dead_letter_file"): ("dead_letter_file", "LOGWHARF_DEAD_LETTER_FILE", Path),
    ("", "max_event_bytes"): ("max_event_bytes", "LOGWHARF_MAX_EVENT_BYTES", int),
    ("run", "state_dir"): ("state_dir", "LOGWHARF_STATE_DIR", Path),
    ("run", "ship_self"): ("ship_self", "LOGWHARF_SHIP_SELF", bool),
    ("run", "multiline"): ("multiline", "LOGWHARF_MULTILINE", str),
    ("run", "multiline_pattern"): ("multiline_pattern", "LOGWHARF_MULTILINE_PATTERN", str),
    ("run", "flush_seconds"): ("flush_seconds", "LOGWHARF_FLUSH_SECONDS", float),
    ("run", "grace_seconds"): ("grace_seconds", "LOGWHARF_GRACE_SECONDS", float),
}
_SELECTORS = {"names": "name", "images": "image", "labels": "label"}
# Credentials stay out of flags; in the file they are a fallback for the variables.
CREDENTIALS = {
    "username": "LOGWHARF_ES_USERNAME",
    "password": "LOGWHARF_ES_PASSWORD",
    "api_key": "LOGWHARF_ES_API_KEY",
}


def apply_config(
    args: argparse.Namespace,
    defaults: dict[str, Any],
    config: ServiceConfig,
    given: Collection[str] | None = None,
) -> dict[str, str]:
    """Fills ``args`` from the file where the run did not set a value itself: ``given`` are
    the options on the command line (when unknown, a value other than its default in
    ``defaults``, what the parser gives with no flags, counts as given). Returns the
    credentials the file supplies for variables that are unset."""
    base = config.source.parent if config.source else Path.cwd()
    for (section, key), (dest, variable, convert) in _SETTINGS.items():
        if not hasattr(args, dest):
            continue  # a setting of the other command
        holder: Any = config if not section else getattr(config, section)
        value = getattr(holder, key)
        if value is None or (key == "verify_tls" and value is True):
            continue
        explicit = dest in given if given is not None else getattr(args, dest) != defaults.get(dest)
        if os.environ.get(variable) or explicit:
            continue  # given for this run: it wins
        converted = convert(value)
        if isinstance(converted, Path) and not converted.is_absolute():
            converted = base / converted
        setattr(args, dest, converted)
    for verb in ("include", "exclude"):
        selectors = getattr(config.run, verb)
        for plural, kind in _SELECTORS.items():
            dest = f"{verb}_{kind}"
            if hasattr(args, dest) and not getattr(args, dest) and dest not in (given or ()):
                setattr(args, dest, list(getattr(selectors, plural)))
    credentials = {}
    for key, variable in CREDENTIALS.items():
        value = getattr(config.elasticsearch, key)
        if value is not None and not os.environ.get(variable):
            credentials[variable] = value
    return credentials


def check_config_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    worst = EXIT_OK
    for path in args.files:
        try:
            config = load_config(path)
        except ConfigError as error:
            _report(error, err)
            worst = EXIT_USAGE
            continue
        if config.pipeline is None:
            what = "default processor"
        else:  # an empty pipeline is no processing at all, not the default processor
            stages = len(config.stages)
            what = f"{stages} stage{'s' if stages != 1 else ''}"
        out.write(f"{path}: ok ({what})\n")
    return worst


def test_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .pipeline_tests import load_suite, run_suite

    files: list[Path] = []
    for path in args.files:
        if path.is_dir():
            files += sorted([*path.glob("*.test.yaml"), *path.glob("*.test.yml")])
        else:
            files.append(path)
    if not files:
        err.write("logwharf: error: no test files (NAME.test.yaml) among the paths given\n")
        return EXIT_USAGE
    passed = failed = 0
    broken = False
    for path in files:
        try:
            suite = load_suite(path)
        except ConfigError as error:
            _report(error, err)
            broken = True
            continue
        for outcome in run_suite(suite):
            if outcome.passed:
                passed += 1
                out.write(f"ok      {path.name}: {outcome.name}\n")
            else:
                failed += 1
                out.write(f"FAILED  {path.name}: {outcome.name}\n")
                out.write("".join(f"        {line}\n" for line in outcome.report.splitlines()))
    out.write(f"{passed} passed, {failed} failed\n")
    if broken:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK
