"""The backend interface: where the rows of a fit live, and every pass over them.

A fit touches its data only through a :class:`Backend`, chosen once at the edge of
``fit`` (:func:`gaussmix.backends.resolve`). The EM loop calls
``stats = backend.estep(kernel, model, params)`` once per iteration and knows nothing
of threads, tasks, blocks or files; the start asks the backend for the statistics of
a partition, for the data's moments and for the rows of its sample; predictions map
a function over the rows. Each backend decides how a pass runs:

- :class:`~gaussmix.backends.InMemoryBackend`: an array in memory (or memory-mapped),
  its rows split into tasks that threads claim, or into blocks on a thread pool;
- :class:`~gaussmix.backends.ChunkedBackend`: a data file read block by block on
  every pass, the kernel running on threads while the next blocks are read.

The interface is designed so that a backend for a cluster (a Dask array or
DataFrame, chunked by rows) plugs in without a change to the loop, the start or the
estimator. It would implement:

- ``estep``: one small graph per iteration, ``kernel.estep_stats`` mapped over the
  chunks (the parameters travel as task arguments), the chunks' :class:`SuffStats`
  tree-reduced with :meth:`SuffStats.merge` (associative, so any reduction order
  gives the same statistics to rounding), one ``compute`` returning the merged
  statistics: the client receives statistics, never rows;
- ``label_stats``: the same reduction for a hard labelling of every row (labels
  chunked like the rows);
- ``moments``: the same reduction with one component holding every row;
- ``take`` (and ``subset``, the same rows as an in-memory backend): the rows of the
  start's sample, drawn by the caller as indices (so a seed draws the same rows
  wherever they live), selected on the workers and gathered;
- ``map_rows``: predictions as ``map_blocks``, returning a lazy array.

Every method returns statistics merged in a fixed order for a given backend and data
layout, so a fit is reproducible; statistics agree across backends to rounding.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .._params import MixtureParams
    from .._suffstats import SuffStats
    from ..covariance import CovarianceModel

__all__ = ["Backend"]


class Backend(ABC):
    """Rows of a data set and their sample weights, and the passes a fit makes over them.

    Attributes
    ----------
    sample_weight : ndarray of shape (n_rows,) or None
        Frequency weights of the rows, None for weight 1 each. In-memory and chunked
        backends hold them as an array in memory.
    block_size : int
        Rows per block of a pass (the statistics of a pass depend on it to rounding).
    n_threads : int
        The most threads a pass runs on.
    """

    sample_weight: np.ndarray | None
    block_size: int
    n_threads: int

    @property
    @abstractmethod
    def n_rows(self) -> int:
        """Number of rows."""

    @property
    @abstractmethod
    def n_features(self) -> int:
        """Number of features (columns)."""

    @property
    def in_memory(self) -> bool:
        """Whether the rows are one in-memory array that a start may use in place."""
        return False

    @property
    def weight_sum(self) -> float:
        """Total sample weight (the number of rows when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    @abstractmethod
    def estep(
        self,
        kernel,
        model: CovarianceModel,
        params: MixtureParams,
        *,
        log_volume: float | None = None,
    ) -> SuffStats:
        """One pass over the rows: the E-step under ``params`` and its merged statistics.

        Parameters
        ----------
        kernel : namespace
            From :func:`gaussmix.kernels.get_kernel`: ``estep_stats`` for a block of
            rows (and, for a backend that splits its rows into tasks,
            ``estep_tasks`` and ``task_rows_for``).
        model : CovarianceModel
            Gives the kernel's form of the precisions and which scatter to sum
            (``model.form``, ``model.scatter``, ``model.kernel_precisions``).
        params : MixtureParams
            The parameters going into the E-step.
        log_volume : float or None
            With a uniform noise component of density ``exp(-log_volume)`` and weight
            ``params.noise_weight`` (mclust's), each row's log-likelihood includes it
            and the Gaussian statistics leave out each row's noise share (so
            ``weight_sum - sum(n_k)`` is the noise component's soft count).

        Returns
        -------
        stats : SuffStats
            Soft counts, means and centred scatter per component, the log-likelihood
            of the rows, their total weight and number.
        """

    @abstractmethod
    def label_stats(
        self, kernel, labels: np.ndarray, n_components: int, scatter: str
    ) -> SuffStats:
        """Statistics of a hard partition of every row: row i belongs to ``labels[i]``.

        Parameters
        ----------
        kernel : namespace
            Its ``label_stats`` computes a block's statistics.
        labels : ndarray of shape (n_rows,)
            Component of each row, in ``range(n_components)``, in row order.
        n_components : int
        scatter : {"full", "diag"}
            The scatter the covariance model needs.

        Returns
        -------
        stats : SuffStats
        """

    @abstractmethod
    def moments(self, kernel) -> SuffStats:
        """Statistics of every row in one component: weighted count, mean, diagonal scatter.

        The data's own per-feature variance is ``stats.scatter_k[0] / stats.n_k[0]``.
        """

    @abstractmethod
    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows at sorted indices ``rows`` and their weights, gathered into memory.

        The start's samples come through here: the caller draws the indices from its
        random state, so a seed picks the same rows wherever they live.

        Returns
        -------
        X_rows : ndarray of shape (len(rows), n_features)
        weight_rows : ndarray of shape (len(rows),) or None
        """

    def subset(self, rows: np.ndarray) -> Backend:
        """The rows at sorted indices ``rows`` as an in-memory backend: the start's sample.

        Gathered with :meth:`take`; the start (k-means and its relatives) then runs on
        them in memory, on this backend's threads and block size.
        """
        from ._inmemory import InMemoryBackend

        X_rows, weight = self.take(rows)
        return InMemoryBackend(X_rows, weight, self.block_size, self.n_threads)

    @abstractmethod
    def map_rows(
        self, fn: Callable[[np.ndarray], np.ndarray], *, dtype: np.dtype | None = None
    ) -> np.ndarray:
        """``fn`` applied to blocks of rows, the results stacked along the rows.

        Parameters
        ----------
        fn : callable
            Takes a block of rows (n, n_features) and returns an array whose first
            axis has n entries; pure, so a cluster backend may run it anywhere.
        dtype : dtype or None
            The dtype of the stacked result (None: that of ``fn``'s results).

        Returns
        -------
        result : ndarray of shape (n_rows, ...)
            In memory for in-memory and chunked data; a cluster backend returns the
            lazy equivalent (``map_blocks``).
        """
