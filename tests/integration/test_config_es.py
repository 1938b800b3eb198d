"""``logwharf replay --config`` with the shipped nginx example into the Elasticsearch-compatible
server: what the stages make of real-looking access and error lines is what the server holds,
and what its range queries and aggregations see (numbers stay numbers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logcorpus import Es

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def docker_line(text: str, stream: str, second: int) -> str:
    record = {"log": text + "\n", "stream": stream, "time": f"2026-11-23T10:00:{second:02d}.0Z"}
    return json.dumps(record)


def access(status: int, path: str, agent: str = "curl/8.4.0") -> str:
    return (
        f'203.0.113.9 - - [23/Nov/2026:10:00:00 +0000] "GET {path} HTTP/1.1" {status} 12 '
        f'"-" "{agent}"'
    )


def test_nginx_example_into_the_server(es: Es, run_logwharf: Any, tmp_path: Path) -> None:
    lines = [docker_line(access(200, f"/page/{i}"), "stdout", i % 60) for i in range(30)]
    lines += [docker_line(access(503, f"/api/pay/{i}"), "stdout", i) for i in range(5)]
    probe = access(200, "/healthz", "kube-probe/1.29")
    lines += [docker_line(probe, "stdout", i) for i in range(7)]
    lines.append(docker_line(access(302, "/login?user=bob&password=hunter2"), "stdout", 1))
    lines.append(
        docker_line(
            '2026/11/23 10:00:01 [error] 31#31: *7 open() "/srv/x" failed (2: No such file '
            'or directory), client: 203.0.113.9, server: localhost, request: "GET /x HTTP/1.1"',
            "stderr",
            1,
        )
    )
    lines.append(docker_line("nginx: [warn] conflicting server name", "stderr", 2))
    log = tmp_path / "nginx-json.log"
    log.write_text("\n".join(lines) + "\n")

    # The example, with the redact stage its comments recommend for query strings.
    config = tmp_path / "nginx.yaml"
    config.write_text((EXAMPLES / "nginx.yaml").read_text() + "  - type: redact\n")
    run = run_logwharf(["replay", log, "--es", es.url, "--index", "web", "-c", config])
    assert run.returncode == 0, run.stderr
    assert "dropped                   7" in run.stderr  # the probes, counted

    hits = es.hits("web")
    assert len(hits) == len(lines) - 7
    sources = [hit["_source"] for hit in hits]
    assert not any("hunter2" in json.dumps(source) for source in sources)
    assert not any("/healthz" in source["message"] for source in sources)

    # The status is a number to the server: a range query finds exactly the 5xx.
    errors = es.request(
        "POST",
        "/web/_search",
        {"size": 100, "query": {"range": {"http.response.status_code": {"gte": 500}}}},
    )["hits"]["hits"]
    assert len(errors) == 5
    assert {hit["_source"]["log"]["level"] for hit in errors} == {"error"}
    # One error kind, one fingerprint, whatever the path's number.
    kinds = es.request(
        "POST",
        "/web/_search",
        {
            "size": 0,
            "query": {"term": {"event.outcome.keyword": "failure"}},
            "aggs": {"kinds": {"terms": {"field": "error.fingerprint.keyword"}}},
        },
    )["aggregations"]["kinds"]["buckets"]
    assert [bucket["doc_count"] for bucket in kinds] == [5]

    stderr_docs = [source for source in sources if source.get("stream") == "stderr"]
    by_level = {source["log"].get("level"): source for source in stderr_docs}
    assert by_level["error"]["process"]["pid"] == 31
    assert by_level["error"]["@timestamp"] == "2026-11-23T10:00:01.000Z"
    unparsed = [source for source in stderr_docs if "_grokparsefailure" in source.get("tags", [])]
    assert [source["message"] for source in unparsed] == ["nginx: [warn] conflicting server name"]


def test_a_bad_config_refuses_the_replay_before_anything_is_sent(
    es: Es, run_logwharf: Any, tmp_path: Path
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("pipeline:\n  - type: grok\n    patterns: ['%{NOSUCHPATTERN}']\n")
    log = tmp_path / "app.log"
    log.write_text("hello\n")
    run = run_logwharf(["replay", log, "--es", es.url, "--index", "never", "-c", config])
    assert run.returncode == 2
    assert f"{config}:3:5: pipeline[0].patterns" in run.stderr
    assert "NOSUCHPATTERN" in run.stderr
    assert "never" not in es.indices()
