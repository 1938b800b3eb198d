"""Container metadata from config.v2.json / docker inspect."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from logwharf.shipper.metadata import (
    container_from_inspect,
    container_from_log_path,
    dedot,
    split_image,
)

CID = "0123456789abcdef" * 4


def test_dedot_replaces_dots_and_stringifies_values() -> None:
    labels = {"com.docker.compose.project": "shop", "plain": "v", "n.um": 3}
    assert dedot(labels) == {"com_docker_compose_project": "shop", "plain": "v", "n_um": "3"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ("nginx", None)),
        ("nginx:1.27", ("nginx", "1.27")),
        ("library/nginx:latest", ("library/nginx", "latest")),
        ("registry:5000/app", ("registry:5000/app", None)),  # a port, not a tag
        ("registry:5000/app:1.2", ("registry:5000/app", "1.2")),
        ("app@sha256:" + "a" * 64, ("app@sha256:" + "a" * 64, None)),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None]) -> None:
    assert split_image(image) == expected


def config_doc() -> dict[str, object]:
    return {
        "ID": CID,
        "Name": "/shop-web-1",
        "Image": "sha256:" + "f" * 64,
        "Config": {
            "Image": "registry:5000/shop/web:2.1",
            "Labels": {"com.docker.compose.service": "web", "team": "payments"},
        },
    }


def test_container_from_inspect() -> None:
    assert container_from_inspect(config_doc()) == {
        "id": CID,
        "name": "shop-web-1",
        "image": {"name": "registry:5000/shop/web", "tag": ["2.1"]},
        "labels": {"com_docker_compose_service": "web", "team": "payments"},
    }


def test_container_from_inspect_minimal_and_docker_inspect_spelling() -> None:
    assert container_from_inspect({"Id": "abc"}) == {"id": "abc"}
    assert container_from_inspect({"Id": "abc", "Config": {"Image": "busybox"}}) == {
        "id": "abc",
        "image": {"name": "busybox"},
    }
    # nothing usable: no id key at all rather than "id": None
    assert container_from_inspect({"Config": {"Labels": {}}}) == {}


def container_dir(tmp_path: Path, cid: str = CID) -> Path:
    folder = tmp_path / "containers" / cid
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("name", ["{cid}-json.log", "{cid}-json.log.1", "{cid}-json.log.2.gz"])
def test_container_from_log_path_reads_config(tmp_path: Path, name: str) -> None:
    folder = container_dir(tmp_path)
    doc = config_doc()
    doc["ID"] = "something else"  # the folder name is the truth
    (folder / "config.v2.json").write_bytes(orjson.dumps(doc))
    container = container_from_log_path(folder / name.format(cid=CID))
    assert container is not None
    assert container["id"] == CID
    assert container["name"] == "shop-web-1"
    assert container["image"] == {"name": "registry:5000/shop/web", "tag": ["2.1"]}
    assert container["labels"]["com_docker_compose_service"] == "web"


def test_container_without_readable_config_keeps_its_id(tmp_path: Path) -> None:
    folder = container_dir(tmp_path)
    log = folder / f"{CID}-json.log"
    assert container_from_log_path(log) == {"id": CID}
    (folder / "config.v2.json").write_bytes(b"{not json")
    assert container_from_log_path(log) == {"id": CID}
    (folder / "config.v2.json").write_bytes(b"[1, 2]")
    assert container_from_log_path(log) == {"id": CID}


def test_paths_that_are_not_container_logs(tmp_path: Path) -> None:
    folder = container_dir(tmp_path)
    assert container_from_log_path(folder / "other.log") is None
    assert container_from_log_path(tmp_path / "app" / "app-json.log") is None
    short = container_dir(tmp_path, "abc")
    assert container_from_log_path(short / "abc-json.log") is None
