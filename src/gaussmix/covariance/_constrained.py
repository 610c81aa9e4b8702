"""What the constrained models (mclust's parsimonious ones) share: repair by refitting."""

from __future__ import annotations

from ._base import MAX_RIDGE_STEPS, RIDGE_FRACTION, Repair, unresolvable

__all__ = ["ConstrainedMixin"]


class ConstrainedMixin:
    """Repairs that keep the constraint, and the settings of iterative M-steps.

    A singular covariance is regularised by fitting again with a ridge added to
    every component's scatter (``n_k * ridge`` on its diagonal, the same prior as
    ``reg_covar``): whatever the scatters, the M-step's result satisfies the
    model's constraint, so the repaired covariances do too. The ridge is
    ``RIDGE_FRACTION`` of each feature's variance, times 10 until no covariance is
    singular, as for the unconstrained models.

    Mixed into a storage family (which provides :meth:`singular_components`)
    before it in the bases.

    Parameters
    ----------
    tol : float
        Iterative M-steps stop when the objective changes by less than
        ``tol * (1 + |objective|)``; unused by closed-form models.
    max_iter : int
        Most iterations of an iterative M-step. The step is a generalised EM
        step however early it stops, so reaching the limit is not an error.
    """

    # Whether no part of the covariance belongs to one component alone (EII, EEI):
    # a repair then concerns the shared covariance, not a component.
    fully_shared: bool = False
    kept_doc = "the parts of its covariance that are its own (the shared parts follow the data)"
    ridge_doc = "the diagonal of every component's scatter, per unit of weight, before the fit"

    def __init__(self, tol: float = 1e-8, max_iter: int = 100) -> None:
        self.tol = tol
        self.max_iter = max_iter

    def repair(self, covariances, scale, refit=None):
        bad = self.singular_components(covariances, scale)
        if bad.size == 0:
            return covariances, []
        if refit is None:
            raise ValueError(f"{type(self).__name__}.repair needs refit to keep its constraint.")
        ridge = RIDGE_FRACTION * scale
        for _ in range(MAX_RIDGE_STEPS):
            candidate = refit(ridge)
            if self.singular_components(candidate, scale).size == 0:
                break
            ridge = ridge * 10.0
        else:
            # A ridge of a million times the data's variances swamps any scatter
            # the M-step can resolve. What is still singular was lost to round-off
            # in the M-step itself (eigen-decompositions keep the small eigenvalues
            # of a matrix only to ~1e-16 of its largest).
            ridge = 1e6 * scale
            candidate = refit(ridge)
            still = self.singular_components(candidate, scale)
            if still.size:
                raise unresolvable(self.name, still, scale)
        components = [None] if self.fully_shared else [int(k) for k in bad]
        return candidate, [Repair(k, "regularised", float(ridge.max())) for k in components]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tol={self.tol!r}, max_iter={self.max_iter!r})"
