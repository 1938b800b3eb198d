"""Dotted field names, compiled once: ``http.response.status_code`` reads ``event["http"]
["response"]["status_code"]``.

Events are nested dicts in ECS shape, so a dot always means one level down: a stage that
sets ``http.response.status_code`` makes the objects on the way. A key that holds a dot
itself (an application's own ``"log.level"`` key, kept under ``app``) is reached by the
path of its parent and then the literal key as the last step: ``app.log.level`` tries
``app → log → level`` first and then ``app → "log.level"``, so either shape is found.
"""

from __future__ import annotations

from typing import Any, Final

from logwharf.events import Event

__all__ = ["MISSING", "FieldConflict", "FieldPath"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()


class FieldConflict(TypeError):
    """A path runs through a value that is not an object (``message.text`` when ``message``
    is a string): setting it would have to destroy that value."""


class FieldPath:
    """One field name, split at load time; reads and writes with no parsing per event."""

    __slots__ = ("keys", "last", "name", "parents", "single")

    def __init__(self, name: str) -> None:
        if not name or name.startswith(".") or name.endswith(".") or ".." in name:
            raise ValueError(f"not a field name: {name!r} (use dots between keys: a.b.c)")
        self.name = name
        self.keys: tuple[str, ...] = tuple(name.split("."))
        self.parents = self.keys[:-1]
        self.last = self.keys[-1]
        self.single = len(self.keys) == 1

    def __repr__(self) -> str:
        return f"FieldPath({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldPath) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def get(self, event: Event, default: Any = MISSING) -> Any:
        if self.single:
            return event.get(self.last, default)
        node: Any = event
        for key in self.parents:
            node = node.get(key) if type(node) is dict else None
            if node is None:
                return self._get_dotted(event, default)
        if type(node) is dict:
            value = node.get(self.last, MISSING)
            if value is not MISSING:
                return value
        return self._get_dotted(event, default)

    def _get_dotted(self, event: Event, default: Any) -> Any:
        # The slow way, for keys that hold dots: try every split, outermost keys first.
        return _dotted_lookup(event, self.keys, default)

    def exists(self, event: Event) -> bool:
        return self.get(event) is not MISSING

    def set(self, event: Event, value: Any) -> None:
        node: Any = event
        for key in self.parents:
            child = node.get(key, MISSING)
            if child is MISSING or child is None:
                child = node[key] = {}
            elif type(child) is not dict:
                raise FieldConflict(
                    f"cannot set {self.name}: {key} holds a {type(child).__name__}, not an object"
                )
            node = child
        node[self.last] = value

    def pop(self, event: Event, default: Any = MISSING) -> Any:
        """Removes the field and returns its value; parents left empty are removed too."""
        if self.single:
            return event.pop(self.last, default)
        trail: list[dict[str, Any]] = []
        node: Any = event
        for key in self.parents:
            trail.append(node)
            node = node.get(key) if type(node) is dict else None
            if node is None:
                break
        if type(node) is dict and self.last in node:
            value = node.pop(self.last)
            # Drop the objects that are now empty, innermost first.
            for parent, key in zip(reversed(trail), reversed(self.parents), strict=True):
                if parent[key]:
                    break
                del parent[key]
            return value
        return _dotted_pop(event, self.keys, default)


def _dotted_lookup(node: Any, keys: tuple[str, ...], default: Any) -> Any:
    if type(node) is not dict:
        return default
    for cut in range(len(keys), 0, -1):
        key = ".".join(keys[:cut])
        if key in node:
            if cut == len(keys):
                return node[key]
            found = _dotted_lookup(node[key], keys[cut:], MISSING)
            if found is not MISSING:
                return found
    return default


def _dotted_pop(node: Any, keys: tuple[str, ...], default: Any) -> Any:
    if type(node) is not dict:
        return default
    for cut in range(len(keys), 0, -1):
        key = ".".join(keys[:cut])
        if key in node:
            if cut == len(keys):
                return node.pop(key)
            found = _dotted_pop(node[key], keys[cut:], MISSING)
            if found is not MISSING:
                if node[key] == {}:  # emptied parents go, as on the nested path
                    del node[key]
                return found
    return default
