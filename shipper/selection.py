"""Which containers the live shipper follows: name, image and label rules, and opt-outs.

A container is followed when it matches every include rule given (none given: all) and no
exclude rule; the label ``logwharf.enable=false`` always opts it out, and the shipper's own
container is left out unless asked for (its logs would describe its own shipping).
Names and images match shell globs (``web-*``, ``*/nginx:*``); labels match ``KEY`` (present)
or ``KEY=VALUE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

__all__ = ["OPT_OUT_LABEL", "Selection", "own_container_id"]

OPT_OUT_LABEL = "logwharf.enable"


def _label_matches(rule: str, labels: Mapping[str, str]) -> bool:
    key, sep, value = rule.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


@dataclass(frozen=True)
class Selection:
    include_names: Sequence[str] = ()
    exclude_names: Sequence[str] = ()
    include_images: Sequence[str] = ()
    exclude_images: Sequence[str] = ()
    include_labels: Sequence[str] = ()
    exclude_labels: Sequence[str] = ()
    own_id: str | None = None
    ship_self: bool = False

    def follows(self, container_id: str, name: str, image: str, labels: Mapping[str, str]) -> bool:
        if labels.get(OPT_OUT_LABEL, "").strip().lower() in ("false", "0", "no", "off"):
            return False
        if not self.ship_self and self.own_id and container_id.startswith(self.own_id):
            return False
        name = name.lstrip("/")
        if self.include_names and not any(fnmatchcase(name, g) for g in self.include_names):
            return False
        if any(fnmatchcase(name, glob) for glob in self.exclude_names):
            return False
        if self.include_images and not any(fnmatchcase(image, g) for g in self.include_images):
            return False
        if any(fnmatchcase(image, glob) for glob in self.exclude_images):
            return False
        if self.include_labels and not any(
            _label_matches(rule, labels) for rule in self.include_labels
        ):
            return False
        return not any(_label_matches(rule, labels) for rule in self.exclude_labels)


def own_container_id(cgroup: Path = Path("/proc/self/mountinfo")) -> str | None:
    """The id of the container this process runs in, if any.

    Docker bind-mounts ``/etc/hostname`` from ``.../containers/<id>/hostname``; the
    mount table names that path under cgroup v1 and v2 alike.
    """
    try:
        text = cgroup.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        marker = line.find("/containers/")
        if marker < 0 or "/hostname" not in line:
            continue
        candidate = line[marker + len("/containers/") :].split("/", 1)[0]
        if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
            return candidate
    return None
