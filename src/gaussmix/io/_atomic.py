"""Atomic file writes: a temporary file in the target's directory, renamed over it.

Every output file of gaussmix (model files, tables, reports) is written this
way: an existing file is replaced whole or not at all, and a failure or an
interrupt (Ctrl-C) leaves no partial file behind. Errors name the target, not
the temporary file the user never asked for.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["temporary_path", "write_atomically"]


@contextlib.contextmanager
def temporary_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A fresh path next to ``path``, renamed over ``path`` when the block succeeds.

    Whatever the block raises (an interrupt included) removes the temporary
    file and leaves ``path`` as it was. An ``OSError`` about the temporary
    file is raised again naming ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    suffix : str, default=""
        Ending of the temporary name, for writers that go by the extension.

    Yields
    ------
    temporary : Path
        Where to write. It does not exist yet.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        renamed = _naming(exc, temporary, path) if isinstance(exc, OSError) else None
        if renamed is None:
            raise
        raise renamed from exc
    _fsync_directory(path.parent)


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(handle)`` on a temporary file, then ``os.replace``.

    The data are flushed to disk before the rename. The file gets the
    permissions ``open()`` would give it (the umask applies).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        ``write(handle)`` writes the whole content to the binary file ``handle``.

    Raises
    ------
    OSError
        If the file cannot be written (a missing or read-only directory, a full
        disk); it names ``path``.
    """
    with temporary_path(path) as temporary:
        # os.open with 0o666: tempfile's files are private, and would stay so after
        # the rename.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temporary, flags, 0o666)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())


def _naming(exc: OSError, temporary: Path, path: Path) -> OSError | None:
    """``exc`` told of ``path`` when it names the temporary file or no file; else None."""
    if exc.errno is None or exc.filename not in (None, str(temporary), temporary):
        return None
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; directories cannot be opened on every platform."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
