"""Container metadata in ECS form, from ``docker inspect`` output or ``config.v2.json``.

Both documents share the fields used here (``ID``, ``Name``, ``Config.Image``,
``Config.Labels``). Dots in label keys become ``_`` (as Beats' ``labels.dedot`` does) so
that ``com.docker.compose.project`` stays one keyword field instead of an object tree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

_DOCKER_LOG_NAME = re.compile(r"([0-9a-f]{64})-json\.log")

__all__ = ["container_from_inspect", "container_from_log_path", "dedot", "orchestration_fields"]


def dedot(labels: dict[str, Any]) -> dict[str, str]:
    return {key.replace(".", "_"): str(value) for key, value in labels.items()}


def split_image(image: str) -> tuple[str, str | None]:
    """``registry:5000/app:1.2`` -> (``registry:5000/app``, ``1.2``); digests stay whole."""
    if "@" in image:
        return image, None
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, None


def container_from_inspect(doc: dict[str, Any]) -> dict[str, Any]:
    config = doc.get("Config") or {}
    container: dict[str, Any] = {"id": doc.get("ID") or doc.get("Id")}
    name = doc.get("Name")
    if isinstance(name, str) and name:
        container["name"] = name.lstrip("/")
    image = config.get("Image")
    if isinstance(image, str) and image:
        image_name, tag = split_image(image)
        container["image"] = {"name": image_name, "tag": [tag]} if tag else {"name": image_name}
    labels = config.get("Labels")
    if isinstance(labels, dict) and labels:
        container["labels"] = dedot(labels)
    return {key: value for key, value in container.items() if value is not None}


def container_from_log_path(path: Path) -> dict[str, Any] | None:
    """Metadata for ``.../containers/<id>/<id>-json.log[.N][.gz]``, else ``None``."""
    folder = path.parent
    match = _DOCKER_LOG_NAME.match(path.name)
    if match is None:
        return None
    container_id = match.group(1)  # the file keeps its name when copied off the host
    config_file = folder / "config.v2.json"
    try:
        doc = orjson.loads(config_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {"id": container_id}
    if not isinstance(doc, dict):
        return {"id": container_id}
    container = container_from_inspect(doc)
    container["id"] = container_id
    return container


# Compose and Swarm name a container's project, service, task and node in labels.
_ORCHESTRATION_LABELS = {
    "com.docker.compose.project": ("compose", "project"),
    "com.docker.compose.service": ("compose", "service"),
    "com.docker.swarm.service.name": ("swarm", "service"),
    "com.docker.swarm.task.id": ("swarm", "task"),
    "com.docker.swarm.node.id": ("swarm", "node"),
}


def orchestration_fields(labels: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{"compose": {"project", "service"}, "swarm": {"service", "task", "node"}}`` as far
    as the labels tell, for the event's ``docker`` field."""
    fields: dict[str, dict[str, str]] = {}
    for label, (group, name) in _ORCHESTRATION_LABELS.items():
        value = labels.get(label)
        if isinstance(value, str) and value:
            fields.setdefault(group, {})[name] = value
    return fields
