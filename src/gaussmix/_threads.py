"""How many threads gaussmix's kernels run on, and the user's cap on them.

Fits run their passes over the rows on a pool of threads (one level of
parallelism: BLAS calls made by gaussmix run between passes, not inside them).
Their number is, by precedence:

1. a limit set for the calling thread by gaussmix itself while fits run in
   parallel (model selection with ``n_jobs``: one thread per fit);
2. :func:`set_num_threads`, process-wide;
3. the environment variable ``GAUSSMIX_NUM_THREADS``, read when first needed;
4. the CPUs this process may use (its affinity mask and cgroup CPU quota, as
   joblib counts them).

The results do not depend on the number: statistics are summed over row ranges
fixed by the problem's shape, in row order, so a fit gives bit-identical numbers
on any number of threads.

The setting of :func:`set_num_threads` lives in the compiled extension module,
which exports it as C functions; a controller registered with threadpoolctl (when
it is installed, as scikit-learn requires) reads and sets it, so that
``threadpoolctl.threadpool_limits(n)`` caps gaussmix as it caps BLAS and OpenMP.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from .kernels import LIBRARY_PREFIX, num_threads_setting, set_num_threads_setting

__all__ = ["get_num_threads", "set_num_threads", "thread_limit"]

ENV_VARIABLE = "GAUSSMIX_NUM_THREADS"

_local = threading.local()


def _check(n_threads, what: str) -> int | None:
    if n_threads is None:
        return None
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(
            f"{what} must be a positive integer (or None for every CPU); got {n_threads!r}."
        )
    return n_threads


def _from_environment() -> int | None:
    value = os.environ.get(ENV_VARIABLE, "").strip()
    if not value:
        return None
    try:
        n_threads = int(value)
    except ValueError:
        n_threads = 0
    if n_threads < 1:
        raise ValueError(
            f"The environment variable {ENV_VARIABLE} must be a positive integer; got "
            f"{value!r}. Set it to the number of threads gaussmix may use, or unset it."
        )
    return n_threads


@functools.cache
def available_cpus() -> int:
    """CPUs this process may run on (affinity mask and cgroup quota), at least 1."""
    from joblib import cpu_count

    return max(int(cpu_count()), 1)


def set_num_threads(n_threads: int | None) -> int | None:
    """Cap the threads of gaussmix's passes over the rows, process-wide.

    Parameters
    ----------
    n_threads : int or None
        The most threads a fit, prediction or k-means start uses; None goes back to
        the default (``GAUSSMIX_NUM_THREADS`` when set, otherwise every CPU the
        process may use). Results do not depend on it.

    Returns
    -------
    previous : int or None
        The setting before the call, to restore it with.

    Examples
    --------
    >>> import gaussmix
    >>> previous = gaussmix.set_num_threads(1)
    >>> gaussmix.get_num_threads()
    1
    >>> _ = gaussmix.set_num_threads(previous)
    """
    previous = set_num_threads_setting(_check(n_threads, "n_threads") or 0)
    return previous or None


def get_num_threads() -> int:
    """The number of threads a fit started now, in this thread, would use.

    Returns
    -------
    n_threads : int
        See the module's documentation for the order in which the limits apply.
    """
    n_threads = _process_threads()
    limit = getattr(_local, "limit", None)
    return n_threads if limit is None else min(limit, n_threads)


def _process_threads() -> int:
    """The process-wide number: the setting, the environment's, or every CPU."""
    return num_threads_setting() or _from_environment() or available_cpus()


@contextmanager
def thread_limit(n_threads: int | None) -> Iterator[None]:
    """Cap the threads of fits started in the calling thread (None: no cap of its own).

    gaussmix uses it where fits themselves run in parallel (model selection's
    cells), so that there is one level of parallelism at a time.
    """
    previous = getattr(_local, "limit", None)
    _local.limit = _check(n_threads, "n_threads")
    try:
        yield
    finally:
        _local.limit = previous


def _register_with_threadpoolctl() -> None:
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - scikit-learn requires it
        return

    defaults: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    class GaussmixController(threadpoolctl.LibController):
        """gaussmix's thread cap, as threadpoolctl sees it (user_api "gaussmix")."""

        user_api = "gaussmix"
        internal_api = "gaussmix"
        filename_prefixes = (LIBRARY_PREFIX,)
        check_symbols = ("gaussmix_get_num_threads", "gaussmix_set_num_threads")

        def get_num_threads(self) -> int:
            self.dynlib.gaussmix_get_num_threads.restype = ctypes.c_int
            setting = self.dynlib.gaussmix_get_num_threads()
            # threadpool_limits restores what this returned when it began: remember
            # whether that was the default, to restore the default rather than fix it.
            defaults[self] = None if setting else _process_threads()
            return setting or defaults[self]

        def set_num_threads(self, num_threads: int) -> None:
            if num_threads == defaults.get(self):
                num_threads = 0
            self.dynlib.gaussmix_set_num_threads.argtypes = [ctypes.c_int]
            self.dynlib.gaussmix_set_num_threads(int(num_threads))

        def get_version(self) -> str:
            from ._version import __version__

            return __version__

    threadpoolctl.register(GaussmixController)


_register_with_threadpoolctl()
