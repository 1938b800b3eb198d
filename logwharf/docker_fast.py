"""Docker json-file lines to processed events in one loop: the common case, made cheap.

Decoding a Docker record and running the default processor on it are two passes over the
events, each building and rebuilding dicts; for the lines that make up nearly all of a
Docker log (a complete record whose ``log`` ends in a newline) this module does both at
once and builds each event's dict a single time. Anything else in a slice (a 16 KiB
partial record, a line that is not a record, an empty line, a truncated line) sends the
whole slice the general way, ``DockerJsonDecoder.decode`` then ``DefaultProcessor``, which
remain the definition of the result: the tests hold the two ways to the same output.
"""

from __future__ import annotations

import orjson

from logwharf.events import Event
from logwharf.processor.default import JSON_FAILURE, DefaultProcessor
from logwharf.processor.stage import mark_failure
from logwharf.shipper.decode import DockerJsonDecoder
from logwharf.shipper.ids import docker_event_id, file_event_id
from logwharf.shipper.reader import Lines

__all__ = ["FastResult", "decode_and_process"]

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class FastResult:
    __slots__ = ("events", "failures", "parse_failures", "parsed")

    def __init__(
        self, events: list[Event], parsed: int, parse_failures: int, failures: int
    ) -> None:
        self.events = events
        self.parsed = parsed  # messages that were a JSON object
        self.parse_failures = parse_failures  # messages that looked like JSON but were not
        self.failures = failures  # events the processor could not finish (tagged)


def decode_and_process(
    decoder: DockerJsonDecoder, lines: Lines, processor: DefaultProcessor
) -> FastResult | None:
    """The events of ``lines``, decoded and processed, or ``None`` (nothing changed) when
    the slice holds anything but complete records: then the caller goes the general way."""
    if decoder.partials or lines.truncated or not lines.lines:
        return None
    try:
        records = _loads(b"[" + b",".join(lines.lines) + b"]")
    except _JSONDecodeError:
        return None  # an empty line, or one that is not JSON
    context = decoder.context
    path, identity = context.path, context.identity
    # What every event of the file holds alike is one object shared by the slice's events:
    # nothing after the default processor runs on them here, and encoders only read.
    file_field = {"path": path}
    host_field = {"name": context.host_name}
    container = context.container
    container_id = decoder.container_id
    # Positions run on from slice to slice: work on copies, keep them only on success.
    last_time = dict(decoder.last_time)
    position = dict(decoder.position)
    first_time = dict(decoder.first_time)
    take_fields = processor.take_fields
    read_text = processor.read_text
    events: list[Event] = []
    append = events.append
    parsed = failures = other = bad_json = 0
    for record, line, offset in zip(records, lines.lines, lines.offsets, strict=True):
        if type(record) is not dict:
            return None
        log = record.get("log")
        time = record.get("time")
        stream = record.get("stream")
        if type(log) is not str or log[-1:] != "\n" or type(time) is not str:
            return None
        if type(stream) is not str:
            return None
        if container_id is None:
            doc_id = file_event_id(identity, offset, line)
        else:
            if stream not in first_time:
                first_time[stream] = time
            if last_time.get(stream) == time:
                position[stream] += 1
            else:
                last_time[stream] = time
                position[stream] = 0
            doc_id = docker_event_id(container_id, time, stream, position[stream])
        # The message stays the raw ``log`` until it is known whether the application's
        # JSON names one: most do, and then the copy without the newline is never made.
        event: Event = {
            "@timestamp": time,
            "message": log,
            "stream": stream,
            "log": {"file": file_field, "offset": offset},
            "host": host_field,
            "_id": doc_id,
        }
        if container is not None:
            event["container"] = container
        try:
            if log[:1] == "{":
                try:
                    app = _loads(log)  # the trailing newline is whitespace to JSON
                except _JSONDecodeError:
                    event["tags"] = [JSON_FAILURE]
                    bad_json += 1
                else:
                    if type(app) is dict:
                        parsed += 1
                        take_fields(event, app)
                    else:
                        other += 1
                if event["message"] is log:
                    event["message"] = log[:-2] if log[-2:] == "\r\n" else log[:-1]
            else:
                message = event["message"] = log[:-2] if log[-2:] == "\r\n" else log[:-1]
                if message:
                    read_text(event, message)
        except Exception as error:  # as the processor: a bug costs one event's fields
            if event["message"] is log:
                event["message"] = log[:-2] if log[-2:] == "\r\n" else log[:-1]
            mark_failure(event, processor.name, error)
            failures += 1
        append(event)
    decoder.last_time, decoder.position, decoder.first_time = last_time, position, first_time
    processor.json_parsed += parsed
    processor.json_failures += bad_json
    processor.json_other += other
    processor.failures += failures
    return FastResult(events, parsed, bad_json, failures)
