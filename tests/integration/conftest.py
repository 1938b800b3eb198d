"""Fixtures of the integration tests: a generated log corpus and a clone of the
Elasticsearch-compatible server (osmem, whose pytest plugin provides ``osmem_clone``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from logcorpus import Corpus, Es, build_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    return build_corpus(tmp_path / "logs")


@pytest.fixture
def es(osmem_clone: Any) -> Es:
    return Es(osmem_clone.url)
