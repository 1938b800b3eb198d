"""The event: a plain dict in ECS shape, with two reserved metadata keys.

``_id`` and ``_index`` are Elasticsearch metadata fields, which may never appear in a
document's source; sources and stages set them, and the bulk encoder takes them out.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ID", "INDEX", "Event"]

Event = dict[str, Any]

ID = "_id"
INDEX = "_index"
