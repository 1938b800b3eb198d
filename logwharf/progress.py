"""A progress bar on a terminal (files, bytes, events/s); the caller decides when to show it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from logwharf.shipper.inputs import total_bytes

__all__ = ["Progress"]


class Progress:
    def __init__(self, files: list[Path], raw_bytes: list[int]) -> None:
        self.files = len(files)
        self.raw_bytes = raw_bytes  # updated by the reader as it goes
        self.started = time.monotonic()
        self.shown = 0
        # A terminal can report a size of 0 x 0 (`docker run -t` before it is sized, a bare
        # pty): tqdm would then draw nothing at all, so assume 80 x 24.
        try:
            sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
        except OSError:
            sized = False
        self.bar = tqdm(
            total=total_bytes(files),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="replay",
            leave=False,
            dynamic_ncols=sized,
            ncols=None if sized else 80,
            nrows=None if sized else 24,
        )

    def update(self, files_done: int, events: int) -> None:
        now_bytes = self.raw_bytes[0]
        if now_bytes - self.shown < 1 << 20 and files_done < self.files:
            return  # redrawing for every batch would cost more than it tells
        self.bar.update(now_bytes - self.shown)
        self.shown = now_bytes
        rate = events / max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(
            f"files {files_done}/{self.files}, {rate:,.0f} events/s", refresh=False
        )

    def close(self) -> None:
        self.bar.close()
