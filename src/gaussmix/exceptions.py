"""Exceptions and warnings raised by gaussmix."""

from __future__ import annotations

__all__ = ["DegenerateComponentWarning", "InvalidParameterError"]


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has the wrong type or value.

    Subclasses both ValueError and TypeError, as scikit-learn's error of the same
    name does, so existing ``except`` clauses keep working.
    """


class DegenerateComponentWarning(UserWarning):
    """A component degenerated during EM and was repaired so the fit could go on.

    Raised where scikit-learn would abort with "ill-defined empirical covariance":
    the message names the component and what was done (its covariance was
    regularised, or, when it was empty, it kept its previous mean and covariance).
    """
