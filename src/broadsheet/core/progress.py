"""Progress of long work on stderr: a tqdm bar on a terminal, else a line every few seconds (logs, CI)."""

from __future__ import annotations

import sys
import time

from broadsheet.core import interrupts

INTERVAL = 5.0
"""Seconds between two progress lines when stderr is not a terminal."""


class Progress:
    """Counts ``unit``s done of ``total`` (which may be set later) and shows them, unless not ``enabled``."""

    def __init__(self, desc: str, unit: str, total: int | None = None, enabled: bool = True, stream=None):
        self.desc, self.unit, self.done = desc, unit, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._bar = None
        self._total = total
        self._started = self._shown = time.monotonic()
        if enabled and self.stream.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=desc, unit=unit, total=total, file=self.stream)

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = value
        if self._bar is not None:
            self._bar.total = value
            self._bar.refresh()

    def update(self, n: int = 1) -> None:
        interrupts.check()  # every stage passes here often
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self._shown >= INTERVAL:
            self._line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def seconds(self) -> float:
        return time.monotonic() - self._started

    def _line(self) -> None:
        self._shown = time.monotonic()
        of = f"/{self._total:,}" if self._total else ""
        share = f" ({100 * self.done / self._total:.0f}%)" if self._total else ""
        print(
            f"{self.desc}: {self.done:,}{of} {self.unit}{share}, {self.seconds():.0f} s", file=self.stream, flush=True
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
