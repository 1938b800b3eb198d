"""The end-of-run summary, on stderr, readable by a person and by ``grep``."""

from __future__ import annotations

from typing import TextIO

from .replay import ReplayReport

__all__ = ["print_summary"]


def print_summary(report: ReplayReport, out: TextIO) -> None:
    counts = report.counts
    rate = counts.events / report.seconds if report.seconds > 0 else 0.0
    lines = [
        f"replayed {report.files} file(s) into {report.destination}",
        f"  read           {counts.events:>12,} events from {report.lines:,} lines"
        + (f" ({counts.empty_lines:,} empty lines skipped)" if counts.empty_lines else ""),
        f"  parsed         {counts.parsed:>12,} JSON application lines"
        + (
            f", {counts.parse_failures:,} tagged _jsonparsefailure" if counts.parse_failures else ""
        ),
        f"  dropped        {counts.dropped:>12,}",
    ]
    delivery = report.delivery
    if delivery is None:
        lines.append(f"  written        {report.written:>12,}")
    else:
        lines += [
            f"  indexed        {delivery.indexed:>12,}",
            f"  duplicates     {delivery.duplicates:>12,} (already present, not indexed again)",
            f"  dead-lettered  {delivery.dead_lettered:>12,}"
            + (f" -> {report.dead_letter_path}" if delivery.dead_lettered else ""),
        ]
        if delivery.retried:
            lines.append(f"  retried        {delivery.retried:>12,} item attempts (429/5xx)")
        if report.undelivered:
            lines.append(
                f"  NOT DELIVERED  {report.undelivered:>12,} (run stopped before "
                "Elasticsearch acknowledged them; replay again to send them)"
            )
    if counts.processor_failures:
        lines.append(
            f"  processor failures {counts.processor_failures:,} (tagged _processorfailure)"
        )
    lines.append(f"  seconds        {report.seconds:>12,.2f}")
    lines.append(f"  events/s       {rate:>12,.0f}")
    for problem in report.problems:
        lines.append(f"  could not read {problem}")
    if report.fatal:
        lines.append(f"  error: {report.fatal}")
    if report.interrupted:
        lines.append("  interrupted before the end of the input")
    out.write("\n".join(lines) + "\n")
    out.flush()
