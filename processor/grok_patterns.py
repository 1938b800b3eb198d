"""The grok pattern library: Logstash's ECS-compatible patterns, as Python data.

Written after logstash-patterns-core's ``ecs-v1`` set (grok-patterns, httpd, linux-syslog)
so that patterns copied from Logstash configurations keep working and capture into the same
ECS fields, with these differences:

- Written for Python's ``re``: no nested quantifiers that backtrack exponentially
  (``URIPROTO``), an IPv6 zone id that stops at the end of the address instead of the end of
  the line, and IPv6 guarded by a look-ahead so that IPv4 clients fail it at once.
- ``SYSLOGLINE`` takes the ``<PRI>`` that RFC 3164 puts in front of lines sent over the wire;
  RFC 5424's PRI, version, MSGID and a non-numeric PROCID go to ``log.syslog.priority``,
  ``log.syslog.version``, ``log.syslog.msgid`` (ECS 8 names) and nowhere, not to
  ``process.pid``.
- ``NGINX_ERROR`` (nginx's error log) is ours, with the fields Filebeat's nginx module uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["PATTERNS"]

_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_TAIL = rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}"
_H = "[0-9A-Fa-f]{1,4}"
# The alternatives of RFC 4291 text forms, longest first, as in logstash-patterns-core.
_IPV6 = (
    r"(?=[0-9A-Fa-f]{0,4}:)(?:"
    rf"(?:(?:{_H}:){{7}}(?:{_H}|:))"
    rf"|(?:(?:{_H}:){{6}}(?::{_H}|{_IPV4_TAIL}|:))"
    rf"|(?:(?:{_H}:){{5}}(?:(?::{_H}){{1,2}}|:{_IPV4_TAIL}|:))"
    rf"|(?:(?:{_H}:){{4}}(?:(?::{_H}){{1,3}}|(?::{_H})?:{_IPV4_TAIL}|:))"
    rf"|(?:(?:{_H}:){{3}}(?:(?::{_H}){{1,4}}|(?::{_H}){{0,2}}:{_IPV4_TAIL}|:))"
    rf"|(?:(?:{_H}:){{2}}(?:(?::{_H}){{1,5}}|(?::{_H}){{0,3}}:{_IPV4_TAIL}|:))"
    rf"|(?:(?:{_H}:)(?:(?::{_H}){{1,6}}|(?::{_H}){{0,4}}:{_IPV4_TAIL}|:))"
    rf"|(?::(?:(?::{_H}){{1,7}}|(?::{_H}){{0,5}}:{_IPV4_TAIL}|:))"
    r")(?:%[0-9A-Za-z_.~-]+)?"
)
_EMAIL_CHARS = r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]"

_BASE = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "EMAILLOCALPART": rf"{_EMAIL_CHARS}{{1,64}}(?:\.{_EMAIL_CHARS}{{1,62}}){{0,63}}",
    "EMAILADDRESS": r"%{EMAILLOCALPART}@%{HOSTNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?<![0-9.+-])(?>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "BASE16NUM": r"(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?[0-9A-Fa-f]+)",
    "BASE16FLOAT": (
        r"\b(?<![0-9A-Fa-f.])(?:[+-]?(?:0x)?"
        r"(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?|\.[0-9A-Fa-f]+))\b"
    ),
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": (
        r"(?>(?<!\\)(?>\"(?>\\.|[^\\\"]+)+\"|\"\"|(?>'(?>\\.|[^\\']+)+')|''"
        r"|(?>`(?>\\.|[^\\`]+)+`)|``))"
    ),
    "QS": r"%{QUOTEDSTRING}",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "URN": r"urn:[0-9A-Za-z][0-9A-Za-z-]{0,31}:(?:%[0-9a-fA-F]{2}|[0-9A-Za-z()+,.:=@;$_!*'/?#-])+",
}

_NETWORK = {
    "MAC": r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})",
    "CISCOMAC": r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})",
    "WINDOWSMAC": r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})",
    "COMMONMAC": r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})",
    "IPV6": _IPV6,
    "IPV4": rf"(?<![0-9])(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}(?![0-9])",
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": (
        r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\.?|\b)"
    ),
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "HOSTPORT": r"%{IPORHOST}:%{POSINT}",
    "PATH": r"(?:%{UNIXPATH}|%{WINPATH})",
    "UNIXPATH": r"(?:/[\w%!$@:.,+~-]*)+",
    "TTY": r"(?:/dev/(?:pts|tty[pq]?)(?:\w+)?/?(?:[0-9]+))",
    "WINPATH": r"(?>[A-Za-z]+:|\\)(?:\\[^\\?*]*)+",
    "URIPROTO": r"[A-Za-z][A-Za-z0-9+\-.]+",
    "URIHOST": r"%{IPORHOST}(?::%{POSINT})?",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "URIQUERY": r"[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*",
    "URIPARAM": r"\?%{URIQUERY}",
    "URIPATHPARAM": r"%{URIPATH}(?:\?%{URIQUERY})?",
    "URI": (
        r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?"
        r"(?:%{URIPATH}(?:\?%{URIQUERY})?)?"
    ),
}

_TIME = {
    "MONTH": (
        r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?"
        r"|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?"
        r"|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b"
    ),
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHNUM2": r"(?:0[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?"
    r"|Sat(?:urday)?|Sun(?:day)?)",
    "YEAR": r"(?>[0-9][0-9]){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",  # 60: a leap second
    "TIME": r"(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])",
    "DATE_US": r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
    "DATE_EU": r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "ISO8601_SECOND": r"%{SECOND}",
    "TIMESTAMP_ISO8601": (
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?"
        r"%{ISO8601_TIMEZONE}?"
    ),
    "TIMESTAMP_CN": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY} %{HOUR}:%{MINUTE}:%{SECOND}\.[0-9]{3}",
    "DATE": r"%{DATE_US}|%{DATE_EU}",
    "DATESTAMP": r"%{DATE}[- ]%{TIME}",
    "TZ": r"(?:[APMCE][SD]T|UTC)",
    "DATESTAMP_RFC822": r"%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}",
    "DATESTAMP_RFC2822": r"%{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}",
    "DATESTAMP_OTHER": r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}",
    "DATESTAMP_EVENTLOG": r"%{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    "SYSLOGTIMESTAMP": r"%{MONTH} +%{MONTHDAY} %{TIME}",
    "LOGLEVEL": (
        r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE"
        r"|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?"
        r"|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL"
        r"|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)"
    ),
}

_HTTPD = {
    "HTTPDUSER": r"%{EMAILADDRESS}|%{USER}",
    "HTTPDERROR_DATE": r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}",
    "HTTPD_COMMONLOG": (
        r"%{IPORHOST:source.address} (?:-|%{HTTPDUSER:apache.access.user.identity}) "
        r"(?:-|%{HTTPDUSER:user.name}) \[%{HTTPDATE:timestamp}\] "
        r'"(?:%{WORD:http.request.method} %{NOTSPACE:url.original}'
        r'(?: HTTP/%{NUMBER:http.version})?|%{DATA})" '
        r"(?:-|%{INT:http.response.status_code:int}) "
        r"(?:-|%{INT:http.response.body.bytes:int})"
    ),
    "HTTPD_COMBINEDLOG": (
        r'%{HTTPD_COMMONLOG} "(?:-|%{DATA:http.request.referrer})" '
        r'"(?:-|%{DATA:user_agent.original})"'
    ),
    "HTTPD20_ERRORLOG": (
        r"\[%{HTTPDERROR_DATE:timestamp}\] \[%{LOGLEVEL:log.level}\] "
        r"(?:\[client %{IPORHOST:source.address}\] )?%{GREEDYDATA:message}"
    ),
    "HTTPD24_ERRORLOG": (
        r"\[%{HTTPDERROR_DATE:timestamp}\] "
        r"\[(?:%{WORD:apache.error.module})?:%{LOGLEVEL:log.level}\] "
        r"\[pid %{POSINT:process.pid:int}(?::tid %{INT:process.thread.id:int})?\]"
        r"(?: \(%{POSINT:apache.error.proxy.error.code}\)"
        r"%{DATA:apache.error.proxy.error.message}:)?"
        r"(?: \[client %{IPORHOST:source.address}(?::%{POSINT:source.port:int})?\])?"
        r"(?: %{DATA:error.code}:)? %{GREEDYDATA:message}"
    ),
    "HTTPD_ERRORLOG": r"%{HTTPD20_ERRORLOG}|%{HTTPD24_ERRORLOG}",
    "COMMONAPACHELOG": r"%{HTTPD_COMMONLOG}",
    "COMBINEDAPACHELOG": r"%{HTTPD_COMBINEDLOG}",
    # 2024/01/15 10:23:45 [error] 31#31: *7 open() "/x" failed (2: No such file), client: ...
    "NGINX_ERROR_DATE": r"%{YEAR}/%{MONTHNUM2}/%{MONTHDAY} %{TIME}",
    "NGINX_ERROR": (
        r"%{NGINX_ERROR_DATE:timestamp} \[%{LOGLEVEL:log.level}\] "
        r"%{POSINT:process.pid:int}#%{NONNEGINT:process.thread.id:int}: "
        r"(?:\*%{NONNEGINT:nginx.error.connection_id:int} )?%{GREEDYDATA:message}"
    ),
}

_SYSLOG = {
    "PROG": r"[\x21-\x5a\x5c\x5e-\x7e]+",
    "SYSLOGPROG": r"%{PROG:process.name}(?:\[%{POSINT:process.pid:int}\])?",
    "SYSLOGHOST": r"%{IPORHOST}",
    "SYSLOGFACILITY": (
        r"<%{NONNEGINT:log.syslog.facility.code:int}.%{NONNEGINT:log.syslog.priority:int}>"
    ),
    "SYSLOGBASE": (
        r"%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:host.hostname} "
        r"%{SYSLOGPROG}:"
    ),
    "SYSLOGBASE2": (
        r"(?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp})"
        r"(?: %{SYSLOGFACILITY})?(?: %{SYSLOGHOST:host.hostname})?(?: %{SYSLOGPROG}:)?"
    ),
    "SYSLOG3164PRI": r"<%{NONNEGINT:log.syslog.priority:int}>",
    "SYSLOGLINE": r"(?:%{SYSLOG3164PRI})?%{SYSLOGBASE2} %{GREEDYDATA:message}",
    "SYSLOG5424PRINTASCII": r"[!-~]+",
    "SYSLOG5424PRI": r"<%{NONNEGINT:log.syslog.priority:int}>",
    "SYSLOG5424SD": r"\[%{DATA}\]+",
    "SYSLOG5424BASE": (
        r"%{SYSLOG5424PRI}%{NONNEGINT:log.syslog.version} +"
        r"(?:-|%{TIMESTAMP_ISO8601:timestamp}) +(?:-|%{IPORHOST:host.hostname}) +"
        r"(?:-|%{SYSLOG5424PRINTASCII:process.name}) +"
        r"(?:-|%{NONNEGINT:process.pid:int}(?= )|%{SYSLOG5424PRINTASCII}) +"
        r"(?:-|%{SYSLOG5424PRINTASCII:log.syslog.msgid}) +"
        r"(?:-|%{SYSLOG5424SD:system.syslog.structured_data})?"
    ),
    "SYSLOG5424LINE": r"%{SYSLOG5424BASE} +%{GREEDYDATA:message}",
}

PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {**_BASE, **_NETWORK, **_TIME, **_HTTPD, **_SYSLOG}
)
