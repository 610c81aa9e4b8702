"""Exceptions and warnings raised by gaussmix."""

from __future__ import annotations

__all__ = ["DegenerateComponentWarning", "InvalidParameterError", "ModelFileError"]


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


class DegenerateComponentWarning(UserWarning):
    """A component degenerated during EM and was repaired so the fit could go on.

    Raised where scikit-learn would abort with "ill-defined empirical covariance":
    the message names the component and what was done (its covariance was
    regularised, or, when it was empty, it kept its previous mean and covariance).
    """
