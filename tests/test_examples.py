"""The configurations shipped in ``examples/`` load cleanly and pass their own pipeline tests
(the same check as ``logwharf test examples/``, which CI also runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwharf.config import load_config
from logwharf.pipeline_tests import load_suite, run_suite

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SUITES = sorted(EXAMPLES.glob("*.test.yaml"))
CONFIGS = sorted(path for path in EXAMPLES.glob("*.yaml") if path not in SUITES)


def test_every_example_has_tests() -> None:
    assert CONFIGS, "no example configurations"
    assert {path.name.removesuffix(".test.yaml") for path in SUITES} == {
        path.stem for path in CONFIGS
    }


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_example_configuration_loads(config: Path) -> None:
    assert load_config(config).pipeline


@pytest.mark.parametrize("suite", SUITES, ids=lambda path: path.name)
def test_example_pipeline_tests_pass(suite: Path) -> None:
    outcomes = run_suite(load_suite(suite))
    failed = [f"{outcome.name}:\n{outcome.report}" for outcome in outcomes if not outcome.passed]
    assert len(outcomes) >= 3
    assert not failed, "\n\n".join(failed)
