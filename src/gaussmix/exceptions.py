"""Exceptions and warnings raised by gaussmix."""

from __future__ import annotations

__all__ = [
    "DegenerateComponentWarning",
    "InvalidParameterError",
    "ModelFileError",
    "NumericalError",
]


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has the wrong type or value.

    Subclasses both ValueError and TypeError, as scikit-learn's error of the same
    name does, so existing ``except`` clauses keep working.
    """


class ModelFileError(ValueError):
    """A model file cannot be loaded, or a model cannot be written to one.

    Raised by :func:`gaussmix.load` for a file that is missing, unreadable, not a
    gaussmix model file, truncated or modified (a checksum does not match), of a
    format version this gaussmix does not read, or whose values are invalid
    (wrong shapes, NaN, covariances that are not positive definite, ...); and by
    :func:`gaussmix.save` for a model holding a value the format cannot store. The
    message names the file, what was wrong and what to do about it.
    """


class NumericalError(ValueError, FloatingPointError):
    """EM reached parameters that floating point cannot hold, and no repair helps.

    Raised by ``fit``, ``partial_fit`` and the fits of model selection instead of
    returning a model with NaN or infinite parameters: when a covariance stays
    numerically singular after the strongest regularisation the repair applies
    (features whose variances differ by too many orders of magnitude for the
    covariance model's eigen-decompositions, say), or when the log-likelihood
    overflows. The message says what happened and what to change (usually:
    standardise the features). Subclasses both ValueError and FloatingPointError.
    """


class DegenerateComponentWarning(UserWarning):
    """A component degenerated during EM and was repaired so the fit could go on.

    Raised where scikit-learn would abort with "ill-defined empirical covariance":
    the message names the component and what was done (its covariance was
    regularised, or, when it was empty, it kept its previous mean and covariance).
    """
