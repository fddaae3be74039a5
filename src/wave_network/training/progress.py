"""Progress bars for the training and evaluation loops (rich), on stderr, shown only on a terminal and when
not asked to be quiet. One live display per run holds every bar (rich allows one live display at a time)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import datasets
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers.utils import logging as hf_logging

T = TypeVar("T")

_console = Console(stderr=True)


def console() -> Console:
    """The console the bars draw on; a rich logging handler should share it so log lines and bars do not
    clash."""
    return _console


class ProgressBars:
    """``with ProgressBars(enabled) as bars: for batch in bars.track(loader, "epoch 1/4"): ...``.

    Disabled (no output at all) when ``enabled`` is false or stderr is not a terminal.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and _console.is_terminal
        self._progress: Progress | None = None

    def __enter__(self) -> ProgressBars:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=_console,
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """Yield ``items`` while advancing a bar that disappears when the iteration ends."""
        if self._progress is None:
            yield from items
            return
        task = self._progress.add_task(description, total=total, status="")
        try:
            for item in items:
                yield item
                self._progress.advance(task)
        finally:
            self._progress.remove_task(task)

    def status(self, text: str) -> None:
        """Show ``text`` (e.g. the running loss) beside every active bar."""
        if self._progress is not None:
            for task in self._progress.tasks:
                self._progress.update(task.id, status=text)


@contextmanager
def hide_library_progress_bars(hide: bool = True) -> Iterator[None]:
    """Silence the per-call tqdm bars of transformers (saving, loading) and datasets (mapping, caching) inside
    the block, then restore their previous state."""
    if not hide:
        yield
        return
    hf_was_on = hf_logging.is_progress_bar_enabled()
    ds_was_on = datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hf_was_on:
            hf_logging.enable_progress_bar()
        if ds_was_on:
            datasets.enable_progress_bars()
