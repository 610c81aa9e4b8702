"""Opening files for reading only when they are regular files.

A directory, a FIFO, a device (``/dev/zero``, ``/dev/urandom``) or a socket
given where a file is expected can block a reader or feed it without end, so
such paths are refused before they are opened, and again on the open
descriptor: the open does not block, so a FIFO swapped in between cannot hang it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotRegularFileError", "open_regular_file"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFileError(ValueError):
    """A path to read is not a regular file.

    Attributes
    ----------
    path : Path
    kind : str
        What it is instead: ``"a directory"``, ``"a FIFO (named pipe)"``, ...
    """

    def __init__(self, path: Path, kind: str, advice: str = "") -> None:
        super().__init__(f"{path} is {kind}, not a regular file. {advice}".rstrip())
        self.path = path
        self.kind = kind


def open_regular_file(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    handle : binary file object
        Open for reading; the caller closes it.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    NotRegularFileError
        If ``path`` is a directory, a FIFO, a device or a socket.
    OSError
        If it cannot be opened (permissions).
    """
    path = Path(path)
    _check_mode(path, os.stat(path).st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        _check_mode(path, os.fstat(fd).st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_mode(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise NotRegularFileError(path, kind)
