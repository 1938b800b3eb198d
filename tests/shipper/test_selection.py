"""Which containers ``logwharf run`` follows: ``Selection.follows`` (name and image globs,
labels, the ``logwharf.enable`` opt-out, the shipper's own container) and
``own_container_id`` read from a mount table."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwharf.shipper.selection import OPT_OUT_LABEL, Selection, own_container_id

CID = "0123456789abcdef" * 4
OTHER = "fedcba9876543210" * 4
IMAGE = "registry.example:5000/shop/web:1.2"


def follows(selection: Selection, name: str = "web-1", **labels: str) -> bool:
    return selection.follows(CID, name, IMAGE, labels)


def test_no_rules_follow_everything() -> None:
    assert Selection().follows(CID, "/anything", "busybox:local", {})
    assert Selection().follows(CID, "", "", {})


@pytest.mark.parametrize(
    ("name", "followed"),
    [
        ("web-1", True),
        ("/web-1", True),  # the API's leading slash is not part of the name
        ("web-", True),
        ("api-1", False),
        ("Web-1", False),  # globs are case-sensitive, as Docker's names are
        ("my-web-1", False),  # a glob matches the whole name
    ],
)
def test_include_name_glob(name: str, followed: bool) -> None:
    assert follows(Selection(include_names=["web-*"]), name) is followed


def test_several_include_names_are_alternatives() -> None:
    selection = Selection(include_names=["web-*", "db"])
    assert follows(selection, "web-2")
    assert follows(selection, "db")
    assert not follows(selection, "db-2")


def test_exclude_name_glob_wins_over_include() -> None:
    selection = Selection(include_names=["web-*"], exclude_names=["*-debug", "web-[0-9]"])
    assert follows(selection, "web-api")
    assert not follows(selection, "web-api-debug")
    assert not follows(selection, "/web-7")
    assert follows(selection, "web-17")  # [0-9] is one character


@pytest.mark.parametrize(
    ("rules", "followed"),
    [
        (["registry.example:5000/shop/web:*"], True),
        (["*/web:1.2"], True),  # * crosses slashes
        (["*web*"], True),
        (["web:*"], False),  # the whole reference must match, registry included
        (["nginx*", "*/shop/*"], True),  # any of them
        (["nginx*"], False),
    ],
)
def test_include_image_glob(rules: list[str], followed: bool) -> None:
    assert follows(Selection(include_images=rules)) is followed


def test_exclude_image_glob() -> None:
    selection = Selection(exclude_images=["*/shop/*:1.*"])
    assert not follows(selection)
    assert selection.follows(CID, "web-1", "registry.example:5000/shop/web:2.0", {})
    assert selection.follows(CID, "web-1", "busybox:local", {})


def test_include_label_key_or_key_value() -> None:
    by_key = Selection(include_labels=["com.example.team"])
    assert follows(by_key, **{"com.example.team": "payments"})
    assert follows(by_key, **{"com.example.team": ""})  # present is enough
    assert not follows(by_key, **{"com.example.other": "payments"})
    assert not follows(by_key)
    by_value = Selection(include_labels=["com.example.team=payments"])
    assert follows(by_value, **{"com.example.team": "payments"})
    assert not follows(by_value, **{"com.example.team": "payments-2"})
    assert not follows(by_value, **{"com.example.team": ""})
    assert not follows(by_value)


def test_label_value_may_hold_an_equals_sign() -> None:
    selection = Selection(include_labels=["filter=a=b"])
    assert follows(selection, filter="a=b")
    assert not follows(selection, filter="a")


def test_several_include_labels_are_alternatives() -> None:
    selection = Selection(include_labels=["tier=web", "tier=api"])
    assert follows(selection, tier="web")
    assert follows(selection, tier="api")
    assert not follows(selection, tier="db")


def test_exclude_label_key_or_key_value() -> None:
    selection = Selection(exclude_labels=["noisy", "tier=batch"])
    assert not follows(selection, noisy="")
    assert not follows(selection, noisy="yes")
    assert not follows(selection, tier="batch")
    assert follows(selection, tier="web")
    assert follows(selection)


def test_every_kind_of_include_must_hold() -> None:
    selection = Selection(
        include_names=["web-*"], include_images=["*/shop/*"], include_labels=["tier=web"]
    )
    assert follows(selection, "web-1", tier="web")
    assert not follows(selection, "api-1", tier="web")  # name does not match
    assert not follows(selection, "web-1", tier="db")  # label does not match
    assert not selection.follows(CID, "web-1", "busybox:local", {"tier": "web"})  # image


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "FALSE", "Off", " no "])
def test_opt_out_label_stops_following_whatever_the_rules(value: str) -> None:
    assert not follows(Selection(), **{OPT_OUT_LABEL: value})
    # An include rule that names the container does not override the opt-out.
    chosen = Selection(include_names=["web-1"], include_labels=[OPT_OUT_LABEL])
    assert not follows(chosen, **{OPT_OUT_LABEL: value})


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "", "maybe"])
def test_other_values_of_the_opt_out_label_do_not_opt_out(value: str) -> None:
    assert OPT_OUT_LABEL == "logwharf.enable"
    assert follows(Selection(), **{OPT_OUT_LABEL: value})


def test_own_container_is_left_out_unless_ship_self() -> None:
    own = Selection(own_id=CID)
    assert not own.follows(CID, "logwharf", "logwharf:latest", {})
    assert own.follows(OTHER, "web-1", IMAGE, {})
    # Even when an include rule would pick it.
    assert not Selection(own_id=CID, include_names=["logwharf"]).follows(
        CID, "logwharf", "logwharf:latest", {}
    )
    assert Selection(own_id=CID, ship_self=True).follows(CID, "logwharf", "logwharf:latest", {})
    # ship_self does not override the other rules or the opt-out.
    shipping_self = Selection(own_id=CID, ship_self=True, exclude_names=["logwharf"])
    assert not shipping_self.follows(CID, "logwharf", "logwharf:latest", {})
    assert not Selection(own_id=CID, ship_self=True).follows(
        CID, "logwharf", "logwharf:latest", {OPT_OUT_LABEL: "false"}
    )


def test_no_own_id_leaves_nothing_out() -> None:
    assert Selection(own_id=None).follows(CID, "logwharf", "logwharf:latest", {})
    assert Selection(own_id="").follows(CID, "logwharf", "logwharf:latest", {})


# --- own_container_id ------------------------------------------------------------------

MOUNTS_OUTSIDE = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4016000k,mode=755
98 22 0:45 / /var/lib/docker/overlay2 rw,relatime - ext4 /dev/sdb1 rw
"""


def mounts_inside(container_id: str, data_root: str = "/var/lib/docker") -> str:
    """A container's mount table (cgroup v2, overlay2): /etc/hostname, /etc/hosts and
    /etc/resolv.conf are bind mounts from the container's folder."""
    folder = f"{data_root}/containers/{container_id}"
    return (
        "612 530 0:60 / / rw,relatime master:300 - overlay overlay rw,lowerdir=/var/lib/"
        "docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/"
        "overlay2/1f2e/diff,workdir=/var/lib/docker/overlay2/1f2e/work\n"
        "613 612 0:63 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
        "614 612 0:64 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
        "617 612 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n"
        f"620 612 8:1 {folder}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/sda1 rw\n"
        f"621 612 8:1 {folder}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n"
        f"622 612 8:1 {folder}/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw\n"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return path


def test_own_container_id_from_the_hostname_mount(tmp_path: Path) -> None:
    assert own_container_id(write(tmp_path, mounts_inside(CID))) == CID


def test_own_container_id_with_another_data_root(tmp_path: Path) -> None:
    # /var/lib/docker on its own file system: the mount root is relative to it.
    text = mounts_inside(OTHER, data_root="/docker")
    assert own_container_id(write(tmp_path, text)) == OTHER


def test_own_container_id_outside_a_container(tmp_path: Path) -> None:
    assert own_container_id(write(tmp_path, MOUNTS_OUTSIDE)) is None
    assert own_container_id(write(tmp_path, "")) is None


def test_own_container_id_needs_the_hostname_mount(tmp_path: Path) -> None:
    only_resolv = "\n".join(
        line for line in mounts_inside(CID).splitlines() if "/hostname " not in line
    )
    assert CID in only_resolv  # resolv.conf and hosts still name the folder
    assert own_container_id(write(tmp_path, only_resolv)) is None


@pytest.mark.parametrize(
    "candidate",
    [
        CID[:63],  # too short
        CID.upper(),  # Docker's ids are lowercase hex
        "g" * 64,
        "storage",  # podman: /var/lib/containers/storage/.../userdata/hostname
    ],
)
def test_own_container_id_ignores_what_is_not_a_docker_id(tmp_path: Path, candidate: str) -> None:
    folder = f"/var/lib/docker/containers/{candidate}"
    line = f"621 612 8:1 {folder}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
    assert own_container_id(write(tmp_path, MOUNTS_OUTSIDE + line)) is None


def test_own_container_id_without_a_readable_file(tmp_path: Path) -> None:
    assert own_container_id(tmp_path / "missing") is None
    assert own_container_id(tmp_path) is None  # a directory
