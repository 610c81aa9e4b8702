"""The covariance-model interface and helpers shared by the models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..exceptions import NumericalError
from ._saved import check_saved_covariances

# numpy.linalg rather than scipy.linalg: NumPy and SciPy wheels each bundle an
# OpenBLAS, and alternating between the two in the EM loop leaves one library's
# threads spinning while the other works (a 32 x 32 triangular solve took
# milliseconds). The E-step's matrix products run on NumPy's, so the M-step does too.

__all__ = ["CovarianceModel", "Repair"]

# A covariance is numerically singular when a variance, or a squared Cholesky
# pivot, is below this fraction of the data's variance for that feature (or, for
# pivots, of the matrix's own diagonal entry): its precision would be ~1e13 times
# the data's and the likelihood would be driven by round-off (duplicated points
# leave variances of ~1e-31 rather than exactly zero). Such covariances are
# regularised rather than trusted.
PIVOT_TOL = 1e-13

# Regularisation applied to a degenerate covariance: this fraction of each
# feature's variance in the data (what reg_covar="auto" applies everywhere),
# multiplied by 10 until the matrix is positive definite.
RIDGE_FRACTION = 1e-6
# The most times the ridge is multiplied by 10 before the repair gives up.
MAX_RIDGE_STEPS = 12


@dataclass(frozen=True)
class Repair:
    """What was done to a degenerate component during an M-step.

    Attributes
    ----------
    component : int or None
        Index of the component, or None for a covariance shared by all components.
    action : {"regularised", "kept"}
        ``"regularised"``: a ridge was added to the covariance's diagonal;
        ``"kept"``: the component was empty and kept its previous mean and covariance.
    amount : float
        For ``"regularised"``, the largest value added to the diagonal; for
        ``"kept"``, the component's soft count.
    """

    component: int | None
    action: str
    amount: float


def cholesky_or_none(matrix: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of a covariance, or None if it is numerically singular.

    ``scale`` (n_features,) holds the data's variances; see ``PIVOT_TOL``.
    """
    if not np.all(np.isfinite(matrix)):
        return None
    diag = np.diag(matrix)
    if np.any(diag <= PIVOT_TOL * scale):
        return None
    try:
        chol = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None
    if np.min(np.diag(chol) ** 2 / diag) < PIVOT_TOL:
        return None
    return chol


def repair_matrix(matrix: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, float]:
    """Add ``RIDGE_FRACTION * scale`` (times 10 per try) to the diagonal until SPD.

    A matrix with non-finite entries is replaced by ``diag(scale)`` first.
    Returns the repaired matrix and the largest value added to its diagonal.
    """
    if not np.all(np.isfinite(matrix)):
        matrix = np.diag(scale)
    ridge = RIDGE_FRACTION * scale
    for _ in range(MAX_RIDGE_STEPS):
        candidate = matrix + np.diag(ridge)
        if cholesky_or_none(candidate, scale) is not None:
            return candidate, float(ridge.max())
        ridge = ridge * 10.0
    # Only reachable for pathological input; the data's own variance is SPD.
    return np.diag(scale), float(scale.max())


def unresolvable(model_name: str, components: np.ndarray, scale: np.ndarray) -> NumericalError:
    """The error for covariances that stay singular after the strongest repair.

    ``components`` lists the singular ones; ``scale`` (n_features,) holds the
    data's variances, whose range usually explains it.
    """
    which = ", ".join(str(int(k)) for k in components)
    spread = float(scale.max() / scale.min())
    return NumericalError(
        f"covariance_type={model_name!r} cannot be fitted to these data in float64: the "
        f"covariance of component(s) {which} stays numerically singular even with a ridge "
        "of 1e6 times each feature's variance added. The features' variances span a "
        f"factor of {spread:.1e}, beyond what the model's eigen-decompositions resolve. "
        "Standardise the features (for example with sklearn.preprocessing.StandardScaler), "
        "or use a covariance_type that does not depend on the features' scales (VVV, EEE, "
        "VEE, EVV or a diagonal model)."
    )


def precision_cholesky_from_covariance(covariance: np.ndarray) -> np.ndarray:
    """Upper-triangular P with P P^T = inv(covariance), as scikit-learn stores it.

    Works on one (D, D) matrix or a stack (K, D, D).
    """
    chol = np.linalg.cholesky(covariance)
    # inv(L)^T; the inverse of a triangular matrix is triangular, clean the round-off.
    return np.triu(np.swapaxes(triangular_inverse(chol), -1, -2))


def triangular_inverse(chol: np.ndarray) -> np.ndarray:
    """Inverse of lower-triangular Cholesky factors, one (D, D) or a stack (K, D, D).

    ``np.linalg.inv`` pivots rows by magnitude, which on the factor of a matrix
    whose features differ in scale by orders of magnitude swaps a huge row above a
    tiny one and loses every digit of the tiny one's entries. Dividing each row by
    its diagonal entry first leaves a unit-triangular matrix without that spread;
    its inverse, with the columns divided back, is the inverse of ``chol``.
    """
    diagonal = np.diagonal(chol, axis1=-2, axis2=-1)
    unit = chol / diagonal[..., :, None]
    return np.linalg.inv(unit) / diagonal[..., None, :]


def precision_cholesky_from_precision(precision: np.ndarray) -> np.ndarray:
    """Upper-triangular P with P P^T = precision (Cholesky of the flipped matrix).

    Works on one (D, D) matrix or a stack (K, D, D).
    """
    flipped = precision[..., ::-1, ::-1]
    return np.linalg.cholesky(flipped)[..., ::-1, ::-1].copy()


def check_spd(matrix: np.ndarray, what: str) -> None:
    """Raise a ValueError naming ``what`` unless ``matrix`` is symmetric positive definite."""
    if not np.allclose(matrix, matrix.T, rtol=1e-5, atol=1e-8 * np.abs(matrix).max()):
        raise ValueError(f"{what} should be symmetric, but it is not.")
    if np.any(np.linalg.eigvalsh(matrix) <= 0):
        raise ValueError(
            f"{what} should be positive definite, but it has a non-positive eigenvalue."
        )


def _multivariate_normal(
    rng: np.random.RandomState, mean: np.ndarray, covariance: np.ndarray, n: int
) -> np.ndarray:
    """``rng.multivariate_normal(mean, covariance, n)``, or its Cholesky form where that fails.

    NumPy transforms standard normals by an SVD of the covariance and warns when the
    SVD does not reproduce it (to 1e-8), as happens when the features' variances
    differ by more than ~1e8: the small directions are then lost to round-off. The
    same standard normals are then transformed by the Cholesky factor, which keeps
    them; elsewhere the draws are NumPy's (and scikit-learn's).
    """
    _, singular_values, vh = np.linalg.svd(covariance)
    if np.allclose((vh.T * singular_values) @ vh, covariance, rtol=1e-8, atol=1e-8):
        return rng.multivariate_normal(mean, covariance, n)
    normals = rng.standard_normal((n, len(mean)))
    return mean + normals @ np.linalg.cholesky(covariance).T


class CovarianceModel(ABC):
    """One covariance structure: its M-step, precisions, log-determinants, sampling.

    The EM loop and the estimator never branch on a model's name; everything that
    depends on the structure lives on the model object. All arrays handed to and
    returned by these methods are float64.

    Attributes
    ----------
    name : str
        The primary name: scikit-learn's ("full", "tied", "diag", "spherical")
        where it has one, otherwise mclust's.
    mclust_name : str
        mclust's three-letter name.
    scatter : {"full", "diag"}
        Which scatter statistics the M-step needs.
    form : {"full", "diag"}
        How the kernel receives precision factors: (K, D, D) or (K, D).
    per_component : bool
        Whether ``covariances[k]`` is component k's own covariance, estimated
        from its own statistics alone (False when any part of it is shared with
        the other components).
    m_step_converged : bool
        Whether the latest :meth:`m_step` reached its own optimum: always for the
        closed forms; for the iterative ones, whether their iterations stopped on
        their tolerance rather than at their limit. EM does not stop on an
        iteration whose M-step did not.
    """

    name: str
    mclust_name: str
    scatter: str
    form: str
    per_component: bool
    m_step_converged: bool = True

    @abstractmethod
    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_``, ``precisions_`` and ``precisions_cholesky_``."""

    @abstractmethod
    def m_step(
        self,
        n_k: np.ndarray,
        scatter_k: np.ndarray,
        reg: np.ndarray,
        previous: np.ndarray | None = None,
    ) -> np.ndarray:
        """Covariances maximising the expected complete-data log-likelihood.

        The regularisation enters as ``n_k * diag(reg)`` added to each component's
        scatter before the (constrained) maximisation: for unconstrained models this
        is ``reg`` added to each covariance's diagonal, as in scikit-learn, and for
        constrained ones a prior that keeps the constraint.

        Parameters
        ----------
        n_k : ndarray of shape (n_components,)
            Soft counts, already offset by scikit-learn's ``10 * eps``.
        scatter_k : ndarray of shape (n_components, n_features[, n_features])
            Centred scatter per component (its diagonal when ``scatter == "diag"``).
        reg : ndarray of shape (n_features,)
            Non-negative regularisation of each feature's variance.
        previous : ndarray or None
            The covariances going into this M-step, in the model's own shape, or
            None on the first M-step. Models without a closed-form M-step start
            their iterations here, so that the step never lowers the expected
            log-likelihood below that of ``previous`` (a generalised EM step).

        Returns
        -------
        covariances : ndarray of shape ``self.shape(n_components, n_features)``
            Possibly singular or non-finite where the data are degenerate; see
            :meth:`estimate`.
        """

    def keep_empty(
        self, covariances: np.ndarray, previous: np.ndarray, empty: np.ndarray
    ) -> np.ndarray:
        """Covariances in which the ``empty`` components keep what they own of ``previous``.

        An empty component has no data to estimate its covariance from. It keeps
        the parts of its previous covariance that are its own (with per-component
        covariances, all of it), and takes the parts shared by all components from
        the new estimate, so that the model's constraint still holds.

        Parameters
        ----------
        covariances : ndarray
            New covariances from :meth:`m_step`.
        previous : ndarray
            Covariances going into the M-step, same shape.
        empty : ndarray of int
            Indices of the empty components (not all of them).

        Returns
        -------
        ndarray
            ``covariances``, changed in place or a new array.
        """
        if self.per_component:
            covariances[empty] = previous[empty]
        return covariances

    def estimate(
        self,
        n_k: np.ndarray,
        scatter_k: np.ndarray,
        reg: np.ndarray,
        scale: np.ndarray,
        previous: np.ndarray | None = None,
        empty: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[Repair]]:
        """The covariances of one M-step: :meth:`m_step`, empty components, repairs.

        Parameters
        ----------
        n_k, scatter_k, reg, previous
            As for :meth:`m_step`.
        scale : ndarray of shape (n_features,)
            Each feature's variance in the data (positive), against which
            singular covariances are judged and regularised.
        empty : ndarray of int or None
            Components whose soft count is (numerically) zero; they keep their
            own part of ``previous`` (see :meth:`keep_empty`) when it is given.

        Returns
        -------
        covariances : ndarray
        repairs : list of Repair
            The regularisations made (empty components are recorded by the caller).
        """
        keep = previous is not None and empty is not None and empty.size > 0

        def fit(extra_reg: np.ndarray) -> np.ndarray:
            covariances = self.m_step(n_k, scatter_k, reg + extra_reg, previous)
            return self.keep_empty(covariances, previous, empty) if keep else covariances

        return self.repair(fit(np.zeros_like(reg)), scale, refit=fit)

    @abstractmethod
    def repair(
        self,
        covariances: np.ndarray,
        scale: np.ndarray,
        refit: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, list[Repair]]:
        """Regularise covariances that are numerically singular.

        Parameters
        ----------
        covariances : ndarray
            Covariances from the M-step.
        scale : ndarray of shape (n_features,)
            Each feature's variance in the data (positive).
        refit : callable or None
            ``refit(extra_reg)`` reruns the M-step (and :meth:`keep_empty`) with
            ``extra_reg`` (n_features,) added to ``reg``. Constrained models
            regularise through it, which keeps their constraint.

        Returns
        -------
        covariances : ndarray
            A new array when anything changed.
        repairs : list of Repair
            What was done.
        """

    @abstractmethod
    def precisions_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        """Cholesky factors of the precisions (scikit-learn's convention) from covariances."""

    @abstractmethod
    def precisions_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Cholesky factors of the precisions from the precisions themselves."""

    @abstractmethod
    def precisions(self, precisions_chol: np.ndarray) -> np.ndarray:
        """Precisions from their Cholesky factors."""

    @abstractmethod
    def covariances_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Covariances from precisions (used for user-given ``precisions_init``)."""

    @abstractmethod
    def kernel_precisions(
        self, precisions_chol: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """Precision factors expanded for the kernel: (K, D, D) or (K, D)."""

    @abstractmethod
    def log_det_cholesky(
        self, precisions_chol: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """log det of each component's precision Cholesky factor, shape (n_components,)."""

    @abstractmethod
    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free covariance parameters."""

    @abstractmethod
    def component_covariance(self, covariances: np.ndarray, k: int, n_features: int) -> np.ndarray:
        """Full (n_features, n_features) covariance matrix of component ``k``."""

    @abstractmethod
    def check_precisions(self, precisions: np.ndarray, n_components: int, n_features: int) -> None:
        """Raise ValueError unless user-given precisions have the right shape and are SPD."""

    def check_saved(
        self,
        covariances: np.ndarray,
        precisions: np.ndarray,
        precisions_chol: np.ndarray,
        n_components: int,
        n_features: int,
        eps: float,
    ) -> None:
        """Raise ValueError unless saved parameters of this model are valid and consistent.

        Each covariance must be symmetric positive definite, ``precisions_chol`` its
        inverse's triangular Cholesky factor and ``precisions`` that factor's product,
        to within what ``eps`` (the saved dtype's epsilon) and the covariance's
        condition number allow; a file tampered with, or written by a broken fit, is
        refused with the component named.

        Parameters
        ----------
        covariances, precisions, precisions_chol : ndarray
            float64, of this model's ``shape(n_components, n_features)``.
        n_components, n_features : int
        eps : float
            Machine epsilon of the dtype the parameters were saved in.
        """
        check_saved_covariances(
            self, covariances, precisions, precisions_chol, n_components, n_features, eps
        )

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the mixture: covariances, means and weights."""
        return (
            self.n_covariance_parameters(n_components, n_features)
            + n_components * n_features
            + n_components
            - 1
        )

    def sample(
        self,
        rng: np.random.RandomState,
        means: np.ndarray,
        covariances: np.ndarray,
        counts: np.ndarray,
    ) -> np.ndarray:
        """Draw ``counts[k]`` rows from each component, component by component.

        The draws consume ``rng`` exactly as scikit-learn's ``sample`` does, so the
        same ``random_state`` gives the same samples.
        """
        return np.vstack(
            [
                _multivariate_normal(
                    rng, mean, self.component_covariance(covariances, k, means.shape[1]), int(n)
                )
                for k, (mean, n) in enumerate(zip(means, counts, strict=True))
            ]
        )

    def _check_shape(self, array: np.ndarray, n_components: int, n_features: int) -> None:
        expected = self.shape(n_components, n_features)
        if array.shape != expected:
            raise ValueError(
                f"The parameter '{self.name} precision' should have the shape of "
                f"{expected}, but got {array.shape}. For covariance_type={self.name!r} "
                f"precisions_init has shape {self.shape_doc}."
            )

    shape_doc: str = ""
    # How warnings describe an empty component's covariance and a repair.
    kept_doc: str = "covariance"
    ridge_doc: str = "its diagonal"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
