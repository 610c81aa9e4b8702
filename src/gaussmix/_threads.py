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
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["get_num_threads", "set_num_threads", "thread_limit"]

ENV_VARIABLE = "GAUSSMIX_NUM_THREADS"

_local = threading.local()
_setting: int | None = None


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
    global _setting
    previous = _setting
    _setting = _check(n_threads, "n_threads")
    return previous


def get_num_threads() -> int:
    """The number of threads a fit started now, in this thread, would use.

    Returns
    -------
    n_threads : int
        See the module's documentation for the order in which the limits apply.
    """
    n_threads = _setting or _from_environment() or available_cpus()
    limit = getattr(_local, "limit", None)
    return n_threads if limit is None else min(limit, n_threads)


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
