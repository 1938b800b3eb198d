"""Grok: translation to Python's re, the pattern library on real-looking lines, the writer."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from logwharf.processor.fields import FieldConflict, FieldPath
from logwharf.processor.grok import GrokError, compile_grok, compile_writer, field_name
from logwharf.processor.grok_patterns import PATTERNS

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def fields(expression: str, text: str, **definitions: str) -> dict[str, Any] | None:
    return compile_grok(expression, definitions).fields(text)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_library_pattern_compiles(name: str) -> None:
    grok = compile_grok(f"%{{{name}}}")
    assert grok.regex.groups == len(grok.captures)


# --- the library on real-looking lines ---------------------------------------------------


def test_nginx_combined_line() -> None:
    line = (
        '203.0.113.9 - - [23/Nov/2026:17:50:01 +0000] "GET /api/orders?page=2 HTTP/1.1" 200 1532 '
        f'"https://shop.example.com/cart" "{UA}" "-"'
    )
    assert fields("%{COMBINEDAPACHELOG}", line) == {
        "source.address": "203.0.113.9",
        "timestamp": "23/Nov/2026:17:50:01 +0000",
        "http.request.method": "GET",
        "url.original": "/api/orders?page=2",
        "http.version": "1.1",
        "http.response.status_code": 200,
        "http.response.body.bytes": 1532,
        "http.request.referrer": "https://shop.example.com/cart",
        "user_agent.original": UA,
    }


def test_combined_line_without_referrer_and_agent_sets_neither() -> None:
    line = '10.0.0.7 - bob [01/Jan/2026:00:00:00 -0500] "POST /login HTTP/2.0" 302 - "-" "-"'
    assert fields("%{HTTPD_COMBINEDLOG}", line) == {
        "source.address": "10.0.0.7",
        "user.name": "bob",
        "timestamp": "01/Jan/2026:00:00:00 -0500",
        "http.request.method": "POST",
        "url.original": "/login",
        "http.version": "2.0",
        "http.response.status_code": 302,
    }


@pytest.mark.parametrize("client", ["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a%eth0"])
def test_ipv6_clients(client: str) -> None:
    line = f'{client} - - [23/Nov/2026:17:50:01 +0000] "GET / HTTP/1.1" 404 153 "-" "curl/8.5.0"'
    found = fields("%{COMBINEDAPACHELOG}", line)
    assert found is not None
    assert found["source.address"] == client
    assert found["http.response.status_code"] == 404


def test_a_request_line_that_is_not_method_path_version_still_matches() -> None:
    line = '198.51.100.4 - - [23/Nov/2026:17:50:01 +0000] "\\x16\\x03\\x01" 400 157 "-" "-"'
    found = fields("%{COMBINEDAPACHELOG}", line)
    assert found is not None
    assert "http.request.method" not in found
    assert found["http.response.status_code"] == 400


def test_apache_common_line_and_both_names() -> None:
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
    expected = {
        "source.address": "127.0.0.1",
        "user.name": "frank",
        "timestamp": "10/Oct/2000:13:55:36 -0700",
        "http.request.method": "GET",
        "url.original": "/apache_pb.gif",
        "http.version": "1.0",
        "http.response.status_code": 200,
        "http.response.body.bytes": 2326,
    }
    assert fields("%{COMMONAPACHELOG}", line) == expected
    assert fields("%{HTTPD_COMMONLOG}", line) == expected
    assert fields("%{COMBINEDAPACHELOG}", line) is None  # no referrer and agent


def test_nginx_error_line() -> None:
    line = (
        '2026/11/23 17:50:01 [error] 29#29: *1 open() "/usr/share/nginx/html/favicon.ico" '
        "failed (2: No such file or directory), client: 172.18.0.1, server: localhost, "
        'request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080"'
    )
    found = fields("%{NGINX_ERROR}", line)
    assert found is not None
    assert found["timestamp"] == "2026/11/23 17:50:01"
    assert found["log.level"] == "error"
    assert found["process.pid"] == 29
    assert found["process.thread.id"] == 29
    assert found["nginx.error.connection_id"] == 1
    assert found["message"].startswith('open() "/usr/share/nginx/html/favicon.ico" failed')


def test_nginx_error_line_without_connection() -> None:
    line = "2026/11/23 17:50:01 [notice] 1#1: start worker processes"
    assert fields("%{NGINX_ERROR}", line) == {
        "timestamp": "2026/11/23 17:50:01",
        "log.level": "notice",
        "process.pid": 1,
        "process.thread.id": 1,
        "message": "start worker processes",
    }


def test_rfc3164_syslog_with_and_without_pri() -> None:
    line = "<34>Oct 11 22:14:15 mymachine su[4123]: 'su root' failed for lonvick on /dev/pts/8"
    assert fields("%{SYSLOGLINE}", line) == {
        "log.syslog.priority": 34,
        "timestamp": "Oct 11 22:14:15",
        "host.hostname": "mymachine",
        "process.name": "su",
        "process.pid": 4123,
        "message": "'su root' failed for lonvick on /dev/pts/8",
    }
    found = fields("%{SYSLOGLINE}", "Nov  3 07:00:01 web-1 CRON[991]: (root) CMD (run-parts)")
    assert found is not None
    assert found["timestamp"] == "Nov  3 07:00:01"
    assert found["host.hostname"] == "web-1"
    assert found["process.name"] == "CRON"
    assert found["message"] == "(root) CMD (run-parts)"
    assert "log.syslog.priority" not in found


def test_rfc5424_syslog_with_structured_data() -> None:
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 8710 ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application"][x@1 a="b"] An application event'
    )
    assert fields("%{SYSLOG5424LINE}", line) == {
        "log.syslog.priority": 165,
        "log.syslog.version": "1",
        "timestamp": "2003-10-11T22:14:15.003Z",
        "host.hostname": "mymachine.example.com",
        "process.name": "evntslog",
        "process.pid": 8710,
        "log.syslog.msgid": "ID47",
        "system.syslog.structured_data": (
            '[exampleSDID@32473 iut="3" eventSource="Application"][x@1 a="b"]'
        ),
        "message": "An application event",
    }


def test_rfc5424_syslog_with_nil_values() -> None:
    line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed"
    assert fields("%{SYSLOG5424LINE}", line) == {
        "log.syslog.priority": 34,
        "log.syslog.version": "1",
        "timestamp": "2003-10-11T22:14:15.003Z",
        "host.hostname": "mymachine.example.com",
        "process.name": "su",
        "log.syslog.msgid": "ID47",
        "message": "'su root' failed",
    }
    # A PROCID that is not a number matches, but is no process.pid.
    found = fields("%{SYSLOG5424LINE}", "<14>1 - host app worker-1 - - started")
    assert found is not None
    assert "process.pid" not in found
    assert found["message"] == "started"


def test_apache_24_error_log() -> None:
    line = (
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] "
        "[client 72.15.99.187:5000] File does not exist: /usr/local/apache2/htdocs/favicon.ico"
    )
    found = fields("%{HTTPD_ERRORLOG}", line)
    assert found is not None
    assert found["apache.error.module"] == "core"
    assert found["log.level"] == "error"
    assert found["process.pid"] == 35708
    assert found["source.port"] == 5000
    assert found["message"] == "/usr/local/apache2/htdocs/favicon.ico"


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("IPV4", "192.168.0.255", "256.1.1.1"),
        ("IP", "2001:db8:85a3::8a2e:370:7334", "12345::"),
        ("UUID", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456"),
        ("TIMESTAMP_ISO8601", "2026-11-23T17:50:01.123+01:00", "2026-13-23T17:50:01"),
        ("HTTPDATE", "23/Nov/2026:17:50:01 +0000", "23-Nov-2026 17:50:01"),
        ("SYSLOGTIMESTAMP", "Nov  3 07:00:01", "3 Nov 07:00:01"),
        ("URI", "https://user@example.com:8443/a/b?c=d&e=f", "not a uri"),
        ("QS", '"say \\"hi\\""', "no quotes"),
        ("LOGLEVEL", "WARNING", "LOUD"),
        ("PATH", "/var/log/nginx/access.log", "relative/path"),
        ("HOSTPORT", "db.internal:5432", "db.internal"),
        ("EMAILADDRESS", "ops@example.com", "ops.example.com"),
    ],
)
def test_primitives_match_whole_values(name: str, good: str, bad: str) -> None:
    grok = compile_grok(f"^%{{{name}:v}}$")
    assert grok.fields(good) == {"v": good}
    assert grok.fields(bad) is None


# --- expressions, definitions, conversions ------------------------------------------------


def test_types_convert_and_untyped_stay_strings() -> None:
    found = fields("%{INT:a:int} %{NUMBER:b:float} %{NUMBER:c} %{NUMBER:d:int}", "7 2.5 3 4.0")
    assert found == {"a": 7, "b": 2.5, "c": "3", "d": 4}
    assert type(found["a"]) is int and type(found["b"]) is float


def test_bracket_field_names_become_dotted() -> None:
    found = fields("%{IP:[source][address]}:%{POSINT:[source][port]:int}", "10.1.2.3:8080")
    assert found == {"source.address": "10.1.2.3", "source.port": 8080}
    assert field_name("[a][b][c]") == "a.b.c"
    assert field_name("@metadata.x") == "@metadata.x"
    with pytest.raises(GrokError):
        field_name("[a]b")


def test_custom_definitions_may_use_the_library_and_each_other() -> None:
    definitions = {
        "REQID": r"[0-9a-f]{8}",
        "APPLINE": r"%{TIMESTAMP_ISO8601:timestamp} \[%{REQID:trace.id}\] %{LOGLEVEL:log.level}",
    }
    found = fields(
        "^%{APPLINE} %{GREEDYDATA:message}",
        "2026-01-02T03:04:05Z [0badc0de] WARN disk",
        **definitions,
    )
    assert found == {
        "timestamp": "2026-01-02T03:04:05Z",
        "trace.id": "0badc0de",
        "log.level": "WARN",
        "message": "disk",
    }


def test_custom_definitions_replace_library_ones() -> None:
    assert fields("%{WORD:w}", "a-b c", WORD=r"[a-z-]+") == {"w": "a-b"}


def test_captures_inside_an_unnamed_reference_are_kept() -> None:
    found = fields("%{SYSLOGPROG}", "sshd[42]")
    assert found == {"process.name": "sshd", "process.pid": 42}


def test_oniguruma_forms_are_translated() -> None:
    # Inline named capture, (?i) to the end of its group, POSIX class, \h, plain groups.
    found = fields(r"(?<user.id>\d+) (?i)(GET|post) [[:alpha:]]+ \h+ (x)", "42 POST abc 0f x")
    assert found == {"user.id": "42"}
    grok = compile_grok(r"(a)(b)%{WORD:w}")
    assert grok.regex.groups == 1  # plain groups no longer capture
    assert compile_grok(r"(?m)a.b").fields("a\nb") == {}  # Oniguruma's m is dot-all


def test_unanchored_expressions_search_and_anchored_ones_match_at_the_start() -> None:
    assert fields("%{INT:n}", "abc 12") == {"n": "12"}
    assert fields("^%{INT:n}", "abc 12") is None
    assert fields("^%{INT:n}|x=%{WORD:w}", "abc x=yz") == {"w": "yz"}  # one branch anchored


def test_empty_captures_are_not_fields() -> None:
    assert fields("a%{DATA:x}b", "ab") == {}


def test_lazy_data_rewrite_finds_the_same_matches_as_plain_lazy() -> None:
    # DATA followed by a literal is rewritten into possessive runs; it must behave exactly
    # like ".*?" (here spelled "(?:.*?)", which is not rewritten) on any input.
    shapes = [
        '"%{DATA:a}" "%{DATA:b}"',
        '"(?:-|%{DATA:a})" %{INT:n}',
        r"\[%{DATA:a}\]%{DATA:b}:",
        "%{DATA:a},%{DATA:b},%{GREEDYDATA:c}",
    ]
    rng = random.Random(4)
    alphabet = 'ab",[]: -\n12'
    for shape in shapes:
        fast = compile_grok(shape)
        slow = compile_grok(shape, {"DATA": "(?:.*?)"})
        assert fast.regex.pattern != slow.regex.pattern
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(14)))
            assert fast.fields(text) == slow.fields(text), (shape, text)


def test_data_under_dot_all_is_left_lazy() -> None:
    assert compile_grok("(?s:%{DATA:a}x)").fields("a\nbx") == {"a": "a\nb"}
    assert compile_grok("(?m)%{DATA:a}x").fields("a\nbx") == {"a": "a\nb"}
    assert compile_grok("^%{DATA:a}x").fields("a\nbx") is None  # "." stops at the newline


def test_end_anchors_mean_what_they_mean_in_logstash() -> None:
    assert compile_grok(r"ab\Z").fields("ab\n") == {}  # the end, or before a final newline
    assert compile_grok(r"ab\z").fields("ab\n") is None  # the very end


def test_data_before_something_optional_is_left_lazy() -> None:
    grok = compile_grok('%{DATA:a}"?x')
    assert ".*?" in grok.regex.pattern
    assert grok.fields('ab"x') == {"a": "ab"}


def test_a_long_line_that_does_not_match_fails_fast() -> None:
    grok = compile_grok("%{COMBINEDAPACHELOG}")
    lines = [
        "x" * 100_000,
        "1.2.3.4 - - [" * 5000,
        '1.2.3.4 - - [23/Nov/2026:17:50:01 +0000] "' + 'GET "' * 20_000,
    ]
    started = time.process_time()
    assert all(grok.match(line) is None for line in lines)
    assert time.process_time() - started < 2.0  # linear: milliseconds, not minutes


# --- configuration errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "definitions", "message"),
    [
        ("%{IPORHOTS:ip}", {}, "unknown grok pattern IPORHOTS; did you mean IPORHOST"),
        (
            "%{A}",
            {"A": "x%{B}", "B": "%{C}", "C": "%{A}"},
            "recursive pattern definition: A -> B -> C -> A",
        ),
        ("%{SELF}", {"SELF": "a|%{SELF}"}, "recursive pattern definition: SELF -> SELF"),
        ("(unclosed", {}, "not a valid regular expression: missing ), unterminated subpattern"),
        ("%{BAD}", {"BAD": "a)b"}, "pattern_definitions BAD: not a valid regular expression"),
        ("%{BAD}", {"BAD": "[a-"}, "pattern_definitions BAD: unclosed character class"),
        ("%{INT:n:bool}", {}, "unknown type 'bool' (int or float)"),
        ("%{INT:a..b}", {}, "not a field name"),
        ("%{INT:}", {}, "malformed %{INT:}"),
        ("%{WORD", {}, "unclosed %{"),
        ("%{X}", {"X": "%{NOPE}"}, "pattern_definitions X: unknown grok pattern NOPE"),
        ("(?P=g0)", {}, "back-references are not supported"),
        ("[a&&b]", {}, "intersection"),
    ],
)
def test_compile_errors_say_what_is_wrong(
    expression: str, definitions: dict[str, str], message: str
) -> None:
    with pytest.raises(GrokError) as caught:
        compile_grok(expression, definitions)
    assert message in str(caught.value)


def test_a_definition_that_explodes_is_refused() -> None:
    definitions = {f"L{i}": f"%{{L{i + 1}}}%{{L{i + 1}}}" for i in range(24)} | {"L24": "ab"}
    with pytest.raises(GrokError, match="expands to more than"):
        compile_grok("%{L0}", definitions)


def test_pattern_names_are_checked() -> None:
    with pytest.raises(GrokError, match="not a pattern name"):
        compile_grok("x", {"MY-PATTERN": "x"})


# --- the compiled writer -----------------------------------------------------------------------


def paths(*names: str, convert: Any = None) -> list[tuple[FieldPath, Any]]:
    return [(FieldPath(name), convert) for name in names]


def test_writer_makes_parents_and_shares_them() -> None:
    write = compile_writer(paths("http.request.method", "http.version", "source.address", "t"))
    event: dict[str, Any] = {"http": {"request": {"id": "r1"}}, "source": None}
    assert write(event, ["GET", "1.1", "10.0.0.1", None])
    assert event == {
        "http": {"request": {"id": "r1", "method": "GET"}, "version": "1.1"},
        "source": {"address": "10.0.0.1"},
    }


def test_writer_behaves_like_field_path_set_for_every_order() -> None:
    # The writer remembers parents: a value written where one was must be seen by later ones.
    names = ["a", "a.b", "a.b.c", "a.d", "e.f"]
    rng = random.Random(7)
    for _ in range(300):
        chosen = rng.sample(names, rng.randrange(1, len(names) + 1))
        values = [rng.choice([None, "", "x"]) for _ in chosen]
        expected: dict[str, Any] = {}
        expected_error = None
        try:
            for name, value in zip(chosen, values, strict=True):
                if value:
                    FieldPath(name).set(expected, value)
        except FieldConflict as error:
            expected_error = str(error)
        got: dict[str, Any] = {}
        try:
            compile_writer(paths(*chosen))(got, values)
        except FieldConflict as error:
            assert str(error) == expected_error
        else:
            assert expected_error is None
        assert got == expected, (chosen, values)


def test_writer_conversion_failure_leaves_the_field_out() -> None:
    write = compile_writer(paths("n", convert=int) + paths("m"))
    event: dict[str, Any] = {}
    assert not write(event, ["12abc", "kept"])
    assert event == {"m": "kept"}


def test_writer_keep_empty_and_overwrite() -> None:
    event: dict[str, Any] = {"a": "old"}
    assert compile_writer(paths("a", "b"), keep_empty=True, overwrite=False)(event, ["new", ""])
    assert event == {"a": "old", "b": ""}


def test_writer_field_names_cannot_inject_code() -> None:
    name = "x'] = 1; import os; x['y"
    write = compile_writer([(FieldPath(name), None)])
    event: dict[str, Any] = {}
    write(event, ["v"])
    assert event == {name: "v"}
