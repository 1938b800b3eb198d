"""A streaming log template miner in the manner of Drain, with bounded memory.

Drain (He, Zhu, Zheng and Lyu, ICWS 2017) in short: a message is masked (numbers,
addresses, ids, paths and quoted values become placeholders), split on whitespace and
routed through a prefix tree of fixed depth (token count, then the first tokens) to a short
list of clusters. The most similar cluster of that list takes the message when the share of
equal tokens reaches a threshold, and the tokens where they differ become ``<*>`` in its
template; otherwise the message starts a new cluster.

What this miner adds for a shipper: each cluster has a fingerprint fixed when it is made
(a hash of its first masked template), so a kind keeps one fingerprint while its template
improves; the number of clusters is capped, the least recently matched going first; and the
state is plain data (``snapshot``/``restore``) so that it survives restarts.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import eq
from typing import Any

__all__ = [
    "DEFAULT_MASKS",
    "MAX_CHARS",
    "MAX_TOKENS",
    "WILDCARD",
    "Cluster",
    "Mask",
    "Masker",
    "TemplateMiner",
    "fingerprint_of",
]

WILDCARD = "<*>"
MAX_CHARS = 2048  # mined of one message: its kind shows at the start, and memory stays bounded
MAX_TOKENS = 128
_CACHED_CHARS = 512  # longer masked lines skip the exact-match cache, which stays small
# Clusters of one leaf (one token count, the same first tokens): real logs have a handful;
# a flood of distinct messages must not make every line compare with thousands.
_LEAF_CLUSTERS = 32


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(needle in text for needle in needles)


def _ipv6_possible(text: str) -> bool:
    return "::" in text or text.count(":") >= 7


@dataclass(frozen=True)
class Mask:
    """One masking rule: every match of ``pattern`` becomes ``replacement`` (literally).

    ``needs`` is a cheap test that the text may hold a match at all (a character it cannot
    do without), so the pattern is not run over most lines; ``None`` always runs it.
    """

    pattern: re.Pattern[str]
    replacement: str
    needs: Callable[[str], bool] | None = None


def _mask(regex: str, replacement: str, needs: Callable[[str], bool] | None = None) -> Mask:
    return Mask(re.compile(regex), replacement, needs)


# Generic masks, in order (earlier ones see the text first). They are about the shape of a
# value, never about a particular application: none is tuned to a data set. Patterns begin
# with a character to look for, lookbehinds after it: Python's engine then skips ahead fast.
DEFAULT_MASKS: tuple[Mask, ...] = (
    # Quoted values first, so that a quoted text with spaces is one token, whatever it holds.
    _mask(r'"[^"\n]*"', '"<*>"', _has('"')),
    _mask(r"'(?<![\w']')[^'\n]*'(?![\w'])", "'<*>'", _has("'")),
    _mask(r"\b[A-Za-z][\w+.-]*://[^\s\"'<>]+", "<URL>", _has("://")),
    _mask(r"\b[\w.+-]+@[A-Za-z][\w-]*(?:\.[\w-]+)+\b", "<EMAIL>", _has("@")),
    _mask(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<UUID>",
        _has("-"),
    ),
    _mask(r"\d(?<![\w.]\d)\d?\d?\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?(?!\d|\.\d)", "<IP>"),
    # IPv6 in full or with "::", and with a digit (a time of day, 10:21:45, is not one).
    _mask(
        r"(?<![\w.:])(?=[\w:]*\d)(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
        r"|(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?::"
        r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?)(?![\w:])",
        "<IP>",
        _ipv6_possible,
    ),
    _mask(r"/(?<![\w.:/~-]/)[\w.@~+%-]+(?:/[\w.@~+%-]+)+/?", "<PATH>", _has("/")),
    _mask(r"\b[A-Za-z]:\\[^\s\"'<>|]*", "<PATH>", _has(":\\")),
    _mask(r"0(?<![A-Za-z0-9]0)[xX][0-9a-fA-F]+(?![A-Za-z0-9])", "<HEX>", _has("0x", "0X")),
    # Bare hex ids (a digit and a letter, six or more) are numbers that happen to hold letters.
    _mask(
        r"(?<![A-Za-z0-9])(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}"
        r"(?![A-Za-z0-9])",
        "<NUM>",
    ),
    # Any run of digits, also after letters (node12: names a program numbered); a sign only
    # where it cannot be a dash (blk_-42 but node-42), and never a sign on its own.
    _mask(r"[-+\d](?<![A-Za-z0-9][-+])(?<![-+](?!\d))\d*(?:[.,:/-]\d+)*", "<NUM>"),
)


class Masker:
    """Applies masks in order to one line of text."""

    __slots__ = ("_steps",)

    def __init__(self, masks: Iterable[Mask]) -> None:
        # A function returning the text keeps the replacement literal (no \1 or \g<> parsing).
        self._steps = tuple(
            (mask.pattern.sub, _literal(mask.replacement), mask.needs) for mask in masks
        )

    def __call__(self, text: str) -> str:
        for sub, replace, needs in self._steps:
            if needs is None or needs(text):
                text = sub(replace, text)
        return text


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: text


def fingerprint_of(tokens: Sequence[str]) -> str:
    """16 hex digits of blake2b over a template: the same text gives the same fingerprint in
    every process, so parallel workers agree on the kinds they first met in the same form."""
    return hashlib.blake2b(" ".join(tokens).encode(), digest_size=8).hexdigest()


class Cluster:
    """One kind of message: its template (improving) and its fingerprint (fixed)."""

    __slots__ = (
        "fingerprint",
        "leaf",
        "number",
        "size",
        "template",
        "tokens",
        "wildcards",
    )

    def __init__(self, tokens: list[str], fingerprint: str, size: int = 1) -> None:
        self.tokens = tokens
        self.template = " ".join(tokens)
        self.wildcards = tokens.count(WILDCARD)
        self.fingerprint = fingerprint
        self.size = size
        self.leaf: _Node | None = None  # None once evicted
        self.number = 0  # given by the miner that holds it, never reused by that miner


class _Node:
    __slots__ = ("children", "clusters", "key", "parent")

    def __init__(self, key: str, parent: _Node | None) -> None:
        self.key = key
        self.parent = parent
        self.children: dict[str, _Node] = {}
        self.clusters: list[Cluster] = []


class TemplateMiner:
    """Drain-style online clustering of masked lines, at most ``max_clusters`` kept."""

    def __init__(
        self,
        masker: Masker,
        *,
        max_clusters: int = 10_000,
        similarity: float = 0.7,
        depth: int = 4,
        max_children: int = 100,
    ) -> None:
        if max_clusters < 1 or depth < 3 or max_children < 2 or not 0.0 < similarity <= 1.0:
            raise ValueError(
                "need max_clusters >= 1, depth >= 3, max_children >= 2 and 0 < similarity <= 1"
            )
        self.masker = masker
        self.max_clusters = max_clusters
        self.similarity = similarity
        self.prefix_tokens = depth - 2  # tree levels below the one of the token count
        self.max_children = max_children
        self.root = _Node("", None)
        # By number, least recently matched first.
        self.clusters: OrderedDict[int, Cluster] = OrderedDict()
        self._numbers = 0
        # A line masked exactly as one seen before goes where that one went: no tree search,
        # and a repeated message keeps its cluster even once others have grown around it.
        # It holds numbers, not clusters, so that evicted clusters are freed.
        self._seen: OrderedDict[str, int] = OrderedDict()
        self.evicted = 0
        self.changes = 0  # clusters made, dropped or generalised: what a saved state misses

    def __len__(self) -> int:
        return len(self.clusters)

    def tokens_of(self, text: str) -> list[str]:
        """The masked tokens of one line, as the miner compares them."""
        return _tokens(self.masker(text[:MAX_CHARS]))

    def add(self, text: str) -> Cluster | None:
        """The cluster of one line (made if none is similar enough); ``None`` for no tokens."""
        masked = self.masker(text[:MAX_CHARS])
        number = self._seen.get(masked)
        if number is not None:
            cluster = self.clusters.get(number)
            if cluster is not None:
                self._touch(cluster)
                return cluster
        tokens = _tokens(masked)
        if not tokens:
            return None
        leaf = self._leaf(tokens)
        cluster = self._best(leaf.clusters, tokens) if leaf is not None else None
        if cluster is None:
            cluster = self._create(tokens)
        else:
            self._merge(cluster, tokens)
        if len(masked) <= _CACHED_CHARS:
            seen = self._seen
            if len(seen) >= self.max_clusters:
                seen.popitem(last=False)
            seen[masked] = cluster.number
        return cluster

    def _merge(self, cluster: Cluster, tokens: list[str]) -> None:
        template = cluster.tokens
        changed = False
        for index, (old, new) in enumerate(zip(template, tokens, strict=True)):
            if old != new and old != WILDCARD:
                template[index] = WILDCARD
                changed = True
        if changed:
            self.changes += 1
            cluster.template = " ".join(template)
            cluster.wildcards = template.count(WILDCARD)
        self._touch(cluster)

    def _touch(self, cluster: Cluster) -> None:
        cluster.size += 1
        self.clusters.move_to_end(cluster.number)
        leaf = cluster.leaf
        if leaf is not None and leaf.clusters[-1] is not cluster:
            leaf.clusters.remove(cluster)  # each leaf's list is kept least recent first
            leaf.clusters.append(cluster)

    def _best(self, candidates: list[Cluster], tokens: list[str]) -> Cluster | None:
        # Drain's score: the share of positions where the template holds the very token
        # (placeholders such as <NUM> count, <*> does not); ties go to the more general one.
        best: Cluster | None = None
        best_same = best_params = -1
        for cluster in candidates:
            same = sum(map(eq, cluster.tokens, tokens))
            if same > best_same or (same == best_same and cluster.wildcards > best_params):
                best, best_same, best_params = cluster, same, cluster.wildcards
        if best is None or best_same / len(tokens) < self.similarity:
            return None
        return best

    def _route(self, tokens: list[str]) -> list[str]:
        return [str(len(tokens)), *tokens[: self.prefix_tokens]]

    def _leaf(self, tokens: list[str]) -> _Node | None:
        node = self.root
        for key in self._route(tokens):
            child = node.children.get(key)
            if child is None:
                child = node.children.get(WILDCARD)
                if child is None:
                    return None
            node = child
        return node

    def _create(self, tokens: list[str]) -> Cluster:
        # Interned: the words that recur across templates are kept once.
        template = [sys.intern(token) for token in tokens]
        cluster = Cluster(template, fingerprint_of(tokens))
        self._attach(cluster, self._path_for(tokens))
        leaf = cluster.leaf
        if leaf is not None and len(leaf.clusters) > _LEAF_CLUSTERS:
            self._drop(leaf.clusters[0])
        while len(self.clusters) > self.max_clusters:
            self._drop(next(iter(self.clusters.values())))
        return cluster

    def _path_for(self, tokens: list[str]) -> list[str]:
        """Where a new cluster goes: under its own first tokens, or under ``<*>`` for a token
        that looks variable or once a node has as many children as allowed."""
        node: _Node | None = self.root
        route = self._route(tokens)
        path = [route[0]]  # every token count has its own branch
        node = node.children.get(route[0]) if node is not None else None
        for key in route[1:]:
            if _looks_variable(key):
                key = WILDCARD
            elif node is not None and key not in node.children:
                room = self.max_children - (WILDCARD not in node.children)  # keep one for <*>
                if len(node.children) >= room:
                    key = WILDCARD
            path.append(key)
            node = node.children.get(key) if node is not None else None
        return path

    def _attach(self, cluster: Cluster, path: Sequence[str]) -> None:
        node = self.root
        for key in path:
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(key, node)
            node = child
        node.clusters.append(cluster)
        cluster.leaf = node
        self._numbers += 1
        self.changes += 1
        cluster.number = self._numbers
        self.clusters[cluster.number] = cluster

    def _drop(self, cluster: Cluster) -> None:
        del self.clusters[cluster.number]
        self.evicted += 1
        self.changes += 1
        node = cluster.leaf
        cluster.leaf = None
        if node is None:
            return
        node.clusters.remove(cluster)
        # Prune the nodes left empty, so the tree never outgrows the clusters it holds.
        while node.parent is not None and not node.children and not node.clusters:
            del node.parent.children[node.key]
            node = node.parent

    def snapshot(self) -> list[dict[str, Any]]:
        """The clusters as plain data, least recently matched first."""
        return [
            {
                "fingerprint": cluster.fingerprint,
                "template": cluster.tokens,
                "path": _path_of(cluster),
                "size": cluster.size,
            }
            for cluster in self.clusters.values()
        ]

    def restore(self, items: object) -> None:
        """Replaces the clusters with those of a :meth:`snapshot`; raises ValueError when the
        data is not one, and then keeps the clusters it had."""
        if not isinstance(items, list):
            raise ValueError("the clusters are not a list")
        clusters = [_cluster_from(item, number) for number, item in enumerate(items)]
        self.root = _Node("", None)
        self.clusters = OrderedDict()
        self._seen = OrderedDict()
        for cluster, path in clusters[-self.max_clusters :]:
            if len(path) != len(self._route(cluster.tokens)):
                path = self._path_for(cluster.tokens)  # saved with another depth
            self._attach(cluster, path)


def _path_of(cluster: Cluster) -> list[str]:
    keys = []
    node = cluster.leaf
    while node is not None and node.parent is not None:
        keys.append(node.key)
        node = node.parent
    return keys[::-1]


def _tokens(masked: str) -> list[str]:
    tokens = masked.split()
    # A list of values of one shape (ids, node names) counts as one token, so that lists of
    # any length make one template.
    previous = None
    kept: list[str] = []
    for token in tokens:
        if token != previous or "<" not in token:
            kept.append(token)
            previous = token
    del kept[MAX_TOKENS:]
    return kept


def _looks_variable(token: str) -> bool:
    # Drain's rule: a token with a digit is likely a value, so it gets no branch of its own;
    # nor does a masked one, so that <NUM> and <HEX> at the start meet in one leaf.
    return "<" in token or any(char.isdigit() for char in token)


def _cluster_from(item: object, number: int) -> tuple[Cluster, list[str]]:
    if not isinstance(item, dict):
        raise ValueError(f"cluster {number}: not an object")
    fingerprint = item.get("fingerprint")
    tokens = item.get("template")
    path = item.get("path")
    size = item.get("size", 1)
    if not isinstance(fingerprint, str) or not fingerprint:
        raise ValueError(f"cluster {number}: no fingerprint")
    if not _strings(tokens) or not tokens or len(tokens) > MAX_TOKENS:
        raise ValueError(f"cluster {number}: the template is not a list of strings")
    if not _strings(path) or not path or path[0] != str(len(tokens)):
        raise ValueError(f"cluster {number}: the path does not fit the template")
    if type(size) is not int or size < 1:
        raise ValueError(f"cluster {number}: the size is not a positive integer")
    return Cluster([sys.intern(token) for token in tokens], fingerprint, size), path


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(type(item) is str for item in value)
