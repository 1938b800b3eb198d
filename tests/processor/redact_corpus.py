"""Examples for the ``redact`` stage: events holding secrets, and events that must pass
unchanged. A positive case lists the secrets (no trace of them may be left anywhere in the
event) and text that must stay, so that only the secret itself is masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NEGATIVE", "POSITIVE", "Case"]

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiw"
    "iaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass(frozen=True)
class Case:
    name: str
    event: dict[str, Any]
    secrets: tuple[str, ...] = ()
    kept: tuple[str, ...] = field(default=())


def text(
    name: str, message: str, secrets: tuple[str, ...] = (), kept: tuple[str, ...] = ()
) -> Case:
    return Case(name, {"message": message}, secrets, kept)


POSITIVE: list[Case] = [
    # Passwords in URLs: only the password goes.
    text(
        "url_postgres",
        "connecting to postgres://app:S3cr3tPass@db.internal:5432/orders",
        ("S3cr3tPass",),
        ("postgres://app:", "@db.internal:5432/orders"),
    ),
    text("url_no_user", "cache at redis://:r3d1sPw0rd@cache:6379/0", ("r3d1sPw0rd",), ("@cache",)),
    text("url_amqp", "broker amqp://guest:gu3st!pw@rabbit/vhost up", ("gu3st!pw",), ("guest:",)),
    text(
        "url_encoded",
        "cloning https://deploy:p%40ss%2Fw0rd@git.example.com/repo.git",
        ("p%40ss%2Fw0rd",),
        ("https://deploy:", "@git.example.com/repo.git"),
    ),
    text(
        "url_in_json_text",
        '{"dsn": "mysql://root:RootPw99@mysql:3306/app", "pool": 5}',
        ("RootPw99",),
        ('"pool": 5',),
    ),
    # key=value and JSON keys.
    text(
        "kv_password",
        "login failed password=hunter2 user=bob",
        ("hunter2",),
        ("password=", "user=bob"),
    ),
    text("kv_env_upper", "env DB_PASSWORD=Tr0ub4dor-3x loaded", ("Tr0ub4dor-3x",), ("loaded",)),
    text("kv_passwd_colon", "passwd: s3cr3t! next", ("s3cr3t!",), ("next",)),
    text("kv_pwd", "mysql pwd=abc123XYZ host=db", ("abc123XYZ",), ("host=db",)),
    text("kv_client_secret", 'oauth client_secret="cs_live_7f8e9d" ok', ("cs_live_7f8e9d",)),
    text(
        "kv_two_tokens",
        "access_token=ya29.a0AfH6SMBx3 refresh_token=1//0gLx9wQ expires=3600",
        ("ya29.a0AfH6SMBx3", "1//0gLx9wQ"),
        ("expires=3600",),
    ),
    text("kv_api_key_quoted", "api_key: 'AIzaSyD-9tSrke72PouQMnMX'", ("AIzaSyD-9tSrke72PouQMnMX",)),
    text(
        "kv_header_api_key", "X-Api-Key: 0a1b2c3d4e5f6a7b", ("0a1b2c3d4e5f6a7b",), ("X-Api-Key: ",)
    ),
    text("kv_apikey", "apikey=k_live_51H8xyz&format=json", ("k_live_51H8xyz",), ("&format=json",)),
    text(
        "json_secret",
        '{"level":"info","secret": "my-super-secret-value"}',
        ("my-super-secret-value",),
        ('"level":"info"', '"secret": "'),
    ),
    text(
        "json_password_spaces",
        '{"user":"bob","password":"p@ss w0rd with spaces"}',
        ("p@ss w0rd with spaces", "w0rd"),
        ('"user":"bob"',),
    ),
    text(
        "json_escaped_in_string",
        '{\\"token\\":\\"nested-escaped-tok\\",\\"n\\":1}',
        ("nested-escaped-tok",),
        ('\\"n\\":1',),
    ),
    text("kv_auth", "upstream auth=Zm9vOmJhcg status=ok", ("Zm9vOmJhcg",), ("status=ok",)),
    text("kv_private_key", "private_key: 'MIIEvQIBADANBgkq'", ("MIIEvQIBADANBgkq",)),
    text(
        "kv_aws_secret_name",
        f"aws_secret_access_key = {AWS_SECRET}",
        (AWS_SECRET,),
        ("aws_secret_access_key = ",),
    ),
    text(
        "cli_flag",
        "exec mysql --user=root --password s3cretFlag --host db",
        ("s3cretFlag",),
        ("--host db",),
    ),
    text("kv_upper_key", "PASSWORD: Hunter2Upper", ("Hunter2Upper",)),
    text(
        "kv_camel_key", "cfg dbPassword=camelCasePw1 port=5432", ("camelCasePw1",), ("port=5432",)
    ),
    text("kv_camel_short", "cfg smtpPass=shortCamelPw", ("shortCamelPw",)),
    text("kv_fat_arrow", "{password => 'perl-style-pw'}", ("perl-style-pw",)),
    text("kv_walrus", "set password := 'walrus-pw'", ("walrus-pw",)),
    text("kv_comma_inside", "password=a,b;c(d) next=1", ("a,b;c(d",), ("next=1",)),
    text("kv_credentials", "credentials=user1:pa55word; retry", ("user1:pa55word",)),
    text("kv_query_string", "GET /cb?code=42&access_token=q7Rk29xZ&x=1", ("q7Rk29xZ",), ("&x=1",)),
    # Authorization values.
    text(
        "authorization_bearer",
        "Authorization: Bearer abc.def.ghi",
        ("abc.def.ghi",),
        ("Authorization: Bearer ",),
    ),
    text(
        "authorization_basic",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        ("dXNlcjpwYXNzd29yZA",),
        ("Authorization: Basic ",),
    ),
    text(
        "curl_header",
        "curl -H 'Authorization: Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a' https://api",
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a",),
    ),
    text(
        "bearer_alone",
        "sending Bearer 9f8e7d6c5b4a39281706 to upstream",
        ("9f8e7d6c5b4a39281706",),
        ("sending Bearer ", " to upstream"),
    ),
    text(
        "basic_alone",
        "proxy header Basic YWxhZGRpbjpvcGVuc2VzYW1l accepted",
        ("YWxhZGRpbjpvcGVuc2VzYW1l",),
    ),
    # JWTs, whole.
    text("jwt_text", f"id_token {JWT} received", (JWT, JWT.split(".")[1]), ("received",)),
    text("jwt_query", f"GET /cb?state=xyz&jwt={JWT};", (JWT.split(".")[2],), ("state=xyz",)),
    # AWS.
    text("aws_key_id", "using AKIAIOSFODNN7EXAMPLE for s3", ("AKIAIOSFODNN7EXAMPLE",), ("for s3",)),
    text(
        "aws_pair_space",
        f"ASIAY34FZKBOKMUTVV7A {AWS_SECRET}",
        ("ASIAY34FZKBOKMUTVV7A", AWS_SECRET),
    ),
    text(
        "aws_pair_comma",
        "aws creds: AKIAI44QH8DHBEXAMPLE,je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        ("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
    ),
    text(
        "aws_json_text",
        '{"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", '
        '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE2"}',
        ("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE2"),
    ),
    # Private key blocks: the body goes, the armour stays.
    text(
        "pem_rsa",
        "key loaded:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n"
        "kHn1bE1Tc2c4zEXAMPLE\n-----END RSA PRIVATE KEY-----\ndone",
        ("MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM", "kHn1bE1Tc2c4zEXAMPLE"),
        ("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "done"),
    ),
    text(
        "pem_truncated",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",),
    ),
    text(
        "pem_escaped_newlines",
        'cert="-----BEGIN PRIVATE KEY-----\\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASC\\n'
        '-----END PRIVATE KEY-----"',
        ("MIIEvgIBADANBgkqhkiG9w0BAQEFAASC",),
    ),
    text(
        "pem_pgp",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0zS1MBCADKpgpEXAMPLE\n"
        "-----END PGP PRIVATE KEY BLOCK-----",
        ("lQOYBF0zS1MBCADKpgpEXAMPLE",),
    ),
    # Card numbers that pass the Luhn check.
    text(
        "card_visa_spaces",
        "charged card 4111 1111 1111 1111 amount 20.00",
        ("4111 1111 1111 1111",),
        ("amount 20.00",),
    ),
    text("card_mc_dashes", "cc=5500-0000-0000-0004 ok", ("5500-0000-0000-0004",)),
    text("card_amex", "amex 3782 822463 10005 ok", ("3782 822463 10005",)),
    text("card_discover", "card_number=6011111111111117", ("6011111111111117",)),
    text("card_sentence_end", "paid with 4012888888881881.", ("4012888888881881",)),
    text("card_mc_2_series", "MC 2223003122003222 accepted", ("2223003122003222",)),
    text("card_jcb", "jcb:3530111333300000", ("3530111333300000",)),
    text("card_after_symbol", "paid €4242424242424242 now", ("4242424242424242",)),
    text("card_after_newline", "card:\n4000056655665556\nend", ("4000056655665556",)),
    text("card_visa_13", "old visa 4222222222222", ("4222222222222",)),
    # Structured events: a sensitive key's whole value goes, whatever its type.
    Case("field_password", {"message": "login", "app": {"password": "pw-in-app"}}, ("pw-in-app",)),
    Case(
        "field_credentials_dict",
        {"app": {"db": {"credentials": {"user": "dbuser-x", "pass": "pw2-in-dict"}}}},
        ("pw2-in-dict", "dbuser-x"),
    ),
    Case(
        "field_authorization_header",
        {"http": {"request": {"headers": {"Authorization": "Bearer tok-structured-123"}}}},
        ("tok-structured-123",),
    ),
    Case("field_number", {"app": {"api_key": 123456789}}, ("123456789",)),
    Case(
        "field_list_of_objects",
        {"app": {"items": [{"token": "list-token-1"}, {"token": "list-token-2"}]}},
        ("list-token-1", "list-token-2"),
    ),
    Case(
        "field_string_in_list",
        {"app": {"env": ["HOME=/root", "DB_PASSWORD=env-list-pw"]}},
        ("env-list-pw",),
        ("HOME=/root",),
    ),
    Case(
        "field_dotted_label",
        {"container": {"labels": {"com.example.secret": "label-secret-v"}}},
        ("label-secret-v",),
    ),
    Case("field_camel", {"app": {"clientSecret": "camel-secret-val"}}, ("camel-secret-val",)),
    Case(
        "field_private_key_dict",
        {"app": {"privateKey": {"n": "modulus-x", "d": "private-exponent"}}},
        ("private-exponent",),
    ),
    Case(
        "nested_text",
        {"message": "ok", "app": {"note": "password=nested-text-pw"}},
        ("nested-text-pw",),
        ("password=",),
    ),
    Case(
        "event_original",
        {"message": "x", "event": {"original": '{"msg":"x","token":"orig-token-9"}'}},
        ("orig-token-9",),
    ),
]

NEGATIVE: list[Case] = [
    text("uuid", "550e8400-e29b-41d4-a716-446655440000"),
    text("uuid_in_text", "request 123e4567-e89b-12d3-a456-426614174000 done"),
    text("sha1", "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    text("sha256", "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    text("git_commit", "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 merged"),
    text("sha1_base64_like", "etag W/3ZVVgWNL2FbVjkR4mHa9mzPxXyCbQtvTs0AZ0D1q"),
    text("trace_ids", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7"),
    text("traceparent", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    text("iso_timestamp", "2024-06-10T12:00:01.123456Z started"),
    text("epoch_millis", "ts=1718020800000 took=12ms"),
    text("epoch_micros", "epoch_us=1718020800000000"),
    text("decimal_trace_id", "dd.trace_id=1234567890123456789 dd.span_id=987654321"),
    text("ipv4", "client 192.168.10.254 connected"),
    text("ipv6", "listening on [2001:db8:85a3::8a2e:370:7334]:8080"),
    text("passport", "passport number field validated"),
    text("tokenizer", "tokenizer loaded 50000 entries"),
    text("secretary", "secretary role assigned to user 7"),
    text("password_reset", "password reset email sent to user 42"),
    text("token_counts", "token_count=5 max_tokens=512 tokens: 77"),
    text("pass_words", "passing=true bypass=false compass=north"),
    text("non_luhn_visa", "order 4111111111111112 shipped"),
    text("non_luhn_grouped", "numbers 4111 1111 1111 1112"),
    text("order_id_long", "order id 20240610123456789 created"),
    text("grouped_not_card_prefix", "invoice 1234-5678-9012-3456"),
    # Luhn-valid, but no card network's prefix: epoch-like, 7..., 9..., grouped 1...
    text("luhn_valid_epoch_like", "at 1718020800000001 ok"),
    text("luhn_valid_prefix_7", "ref 7992739871300008 ok"),
    text("luhn_valid_prefix_9", "ref 9000-0000-0000-0001 ok"),
    text("luhn_valid_grouped_1", "ref 1234 5678 9012 3452 ok"),
    text("phone", "phone +1 555-123-4567"),
    text(
        "data_uri",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDw"
        "AChwGA60e6kgAAAABJRU5ErkJggg==",
    ),
    text("url_plain", "https://example.com/path?q=1&page=2#top"),
    text("email", "user@example.com logged in from https://app.example.com/"),
    text("ssh_remote", "git@github.com:org/repo.git fetched"),
    text("url_user_only", "https://user@example.com/"),
    text("url_port_and_at_in_path", "GET http://host:8080/users/@me 200"),
    text("bearer_word", "Bearer authentication failed for client"),
    text("basic_word", "basic auth disabled; Basic Setup complete"),
    text("cache_key", "key=user:42 cache hit"),
    text("author", "author: Jane Doe"),
    text("secret_prose", "the secret to good logs is structure"),
    text("akia_word", "AKIA is a prefix of AWS key ids"),
    text("version", "version 1.24.3 build 20240610"),
    text("duration", "duration=1234567890ms"),
    text(
        "container_id",
        "container 50025779a71414d084b3eee05f786a8e9b9fad8589f1a6e6b857be5955f0ebe0 started",
    ),
    text("eyj_word", "eyJ is how base64 JSON starts"),
    text("oauth", "oauth=enabled"),
    text("authorization_prose", "Authorization header missing"),
    text("token_prose", "token expired at 2024-06-10T12:00:00Z"),
    text("mongo_hosts", "mongodb://db1:27017,db2:27017/?replicaSet=rs0"),
    text("times", "time=12:00:01 level=info"),
    text("mac", "MAC 00:1A:2B:3C:4D:5E"),
    text("isbn", "ISBN 978-3-16-148410-0"),
    text("decimal_amount", "amount=4111.11 EUR"),
    text("decimal_long", "pi=3.141592653589793238 ok"),
    Case(
        "structured_plain",
        {
            "@timestamp": "2024-06-10T12:00:01.123Z",
            "message": "GET /health 200",
            "app": {"token_count": 5, "passing": True, "author": "x", "tokenizer": "bpe"},
            "http": {"request": {"id": "req-1"}},
            "tags": ["prod", "edge"],
        },
    ),
    Case(
        "structured_sensitive_key_without_secret",
        {"app": {"password": None, "secret": True, "token": "", "api_key": False}},
    ),
]
