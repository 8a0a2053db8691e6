"""Atomic file writes (a temporary file in the same folder, fsync, then rename) and the CSV writer.

A crash or kill at any moment leaves either the old file or the new one, never a torn one.
A failed write (disk full, quota exceeded, read-only file system) removes the temporary file
and raises :class:`WriteError` naming the file; the old file is untouched.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


class WriteError(OSError):
    """Writing a file failed for a reason outside the program (disk full, quota, permissions).

    ``str()`` is the plain message (no ``[Errno N]`` prefix); ``errno`` is kept for callers.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def describe_write_error(path: Path, error: OSError) -> str:
    reason = (error.strerror or str(error)).lower() if error.errno else str(error)
    return f"{path}: cannot write ({reason}); the previous version, if any, is intact"


# The permissions ``open()`` would give a new file (mkstemp's are 0600): results, plots and
# laundered audio are meant to be shared. Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)
NEW_FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise WriteError(error.errno, describe_write_error(path, error)) from error
    try:
        with os.fdopen(descriptor, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            os.fchmod(handle.fileno(), NEW_FILE_MODE)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, (WriteError, FileNotFoundError)):
            raise WriteError(error.errno, describe_write_error(path, error)) from error
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def csv_text(rows: Iterable[dict], columns: Sequence[str]) -> str:
    """``rows`` as CSV text: a header of ``columns``, then one line per row (``\\n`` line ends).

    Keys of a row that are not columns are left out; a column a row lacks is an empty cell.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def atomic_write_csv(path: str | Path, rows: Iterable[dict], columns: Sequence[str]) -> None:
    """Write ``rows`` as CSV (see :func:`csv_text`) to ``path`` atomically."""
    atomic_write_text(path, csv_text(rows, columns))


def atomic_write_with(path: str | Path, write: Callable[[IO], None]) -> None:
    """Call ``write(handle)`` on a temporary binary file, then rename it to ``path``.

    An ``OSError`` from the file (e.g. disk full) is re-raised as such even when ``write``
    turned it into something else: ``torch.save``'s zip writer reports it as a RuntimeError
    about stream positions.
    """
    with atomic_open(path, "wb") as handle:
        recorder = _ErrorRecorder(handle)
        try:
            write(recorder)
        except Exception as error:
            if recorder.error is not None and recorder.error is not error:
                raise recorder.error from error
            raise


class _ErrorRecorder:
    """A file proxy that remembers the first OSError its ``write`` raised."""

    def __init__(self, handle: IO):
        self._handle, self.error = handle, None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def __getattr__(self, name: str):
        return getattr(self._handle, name)
