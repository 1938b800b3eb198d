"""Dead letters: events Elasticsearch will never accept, kept with the reason, as NDJSON.

One line per event: ``{"@timestamp", "status", "reason", "index", "id", "event"}``. The
file is created on the first dead letter only, and appended to, never truncated.
"""

from __future__ import annotations

import json
import reprlib
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["DeadLetterFile"]


class DeadLetterFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: IO[str] | None = None

    def write(
        self,
        event: Any,
        status: int | None,
        reason: str,
        index: str | None = None,
        doc_id: str | None = None,
    ) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        record = {
            "@timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "status": status,
            "reason": reason,
            "index": index,
            "id": doc_id,
            "event": event,
        }
        try:
            line = json.dumps(record, ensure_ascii=False, default=repr)
        except (ValueError, RecursionError):  # too deep to write as JSON: keep its start
            record["event"] = reprlib.repr(event)
            line = json.dumps(record, ensure_ascii=False, default=repr)
        self._handle.write(line + "\n")
        self.count += 1

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
