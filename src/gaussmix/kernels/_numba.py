"""Fused numba kernels, the fast twins of :mod:`gaussmix.kernels._numpy`.

A row block is processed in one call (no Python, so no GIL, between its chunks),
chunk by chunk, each chunk laid out column-wise (features x rows) so that every
inner loop runs across rows and compiles to SIMD instructions:

1. ``_log_prob``: for each component, the quadratic form of every row
   (differences ``x - mean_k`` whitened by the upper-triangular precision factor),
   the log-densities and each row's maximum;
2. ``_exp_shifted``: the exponentials of the log-densities shifted by the row's
   maximum, vectorised (numba's own ``exp`` is a scalar call), and their sum per
   row; float32 rows get ``_exp_shifted_single``, the same in float32 (as
   scikit-learn computes their responsibilities);
3. ``_stats_from_prob``: responsibilities, soft counts, and the sums
   ``sum r d`` and ``sum r d d^T`` of the differences ``d = x - mean_k`` to the
   current means.

Sums about the current means add up exactly across chunks. At the end of the
block they are re-centred at the block's own means, ``W = S - n m m^T``; the
current mean is close to the block's mean for its component, so no digits are
lost in practice. For float32 rows the quadratic forms and log-densities of step 1
(most of the arithmetic at larger D) and the exponentials of step 2 are computed in
float32, as scikit-learn computes them for float32 data (the log-densities relative
to the largest log normalising constant, so that they are as small as the
quadratic forms and their differences allow), and for diagonal models so are each
chunk's soft counts and sums of step 3 (with sample weights, from responsibilities
scaled to sum to one, so that no weight overflows or underflows them); a block whose
float32 diagonal scatter is all but cancelled by the shift of its means (a far
start, repeated rows) is summed again in float64. The row sums of float32
exponentials are float32 too (K roundings of float32 size). Everything else (the
full scatter among it), and every sum across chunks, is float64.

All jitted functions are ``nogil`` so blocks can run on threads, and ``cache``
so a second process pays no compile time. The log-densities are computed with
IEEE semantics, except that the full quadratic forms from 8 features on may
contract products and sums into fused multiply-adds; the reductions of step 3
allow reassociation and contraction only (``fastmath={"reassoc", "contract"}``),
which lets them vectorise. Either changes results by rounding alone.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._atomics import fetch_add, load_acquire, spin_pause
from ._bitcast import int32_as_float32, int64_as_float64
from ._lloyd import transpose_rows
from ._numpy import QUAD_MAX

__all__ = ["EstepTasks", "estep_stats", "task_rows_for"]

# IEEE division (no zero-division check, which would keep loops with a division
# from vectorising): no kernel divides by zero on purpose.
_JIT = {"nogil": True, "cache": True, "nopython": True, "error_model": "numpy"}
_REDUCE = {**_JIT, "fastmath": {"reassoc", "contract"}}
_QUAD_MAX = QUAD_MAX

# Rows per chunk: the (features + components) x rows work space stays in L2 cache.
# Not a power of two: rows of the work arrays 4 KiB apart would share one set of
# the L1 cache and evict each other (the kernels stream several at once).
_CHUNK_ROWS = 1008

# Shifted log-densities are raised to at least this before ``np.exp``. Results
# below exp(-708) are subnormal and NumPy's vectorised exp, and every product
# with them afterwards, takes a slow path (25x slower per value; 4x for results
# that underflow to zero). exp(-700) ~ 1e-304 is a responsibility no sum can
# see next to the row's largest, which is 1.
_LOG_PROB_FLOOR = -700.0


# From this many features the full quadratic forms use _whitened_squares.
_WIDE_FEATURES = 8


@numba.jit(**{**_JIT, "fastmath": {"contract"}})
def _whitened_squares(Xt, mean, prec_chol, diff, y, quad):
    """``quad[i] += |(x_i - mean) P|^2`` for upper-triangular ``P``, in the dtype of ``mean``.

    The differences are formed once (not once per output). Outputs
    ``y_j = sum_{l <= j} d_l P[l, j]`` are taken four at a time (rows of ``y``),
    each sweep over the rows adding four differences to all four: four loads of
    differences and four of ``y`` feed sixteen products, where one output at a
    time needed a load and store of ``y`` per four. Coefficients below the
    diagonal count as zero (they are never read). Outputs left over (fewer than
    four) take four terms per sweep, one at a time.
    """
    n_features, n_rows = Xt.shape
    for l in range(n_features):
        centre = mean[l]
        for i in range(n_rows):
            diff[l, i] = Xt[l, i] - centre
    zero = prec_chol[0, 0] - prec_chol[0, 0]
    y0, y1, y2, y3 = y[0], y[1], y[2], y[3]
    j = 0
    while j + 4 <= n_features:
        # One loop body for every tile (the first adds to zeros): half the code to
        # compile of a separate first sweep, for one more store per output.
        y[:4] = 0.0
        for tile in range(0, j + 4, 4):
            # a{r}{c}: P[tile + r, j + c]. Tiles start at multiples of four up to j,
            # so only the last (tile == j) reaches below the diagonal (r > c): zero.
            below = tile == j
            a00, a01 = prec_chol[tile, j], prec_chol[tile, j + 1]
            a02, a03 = prec_chol[tile, j + 2], prec_chol[tile, j + 3]
            a10 = zero if below else prec_chol[tile + 1, j]
            a11, a12 = prec_chol[tile + 1, j + 1], prec_chol[tile + 1, j + 2]
            a13 = prec_chol[tile + 1, j + 3]
            a20 = zero if below else prec_chol[tile + 2, j]
            a21 = zero if below else prec_chol[tile + 2, j + 1]
            a22, a23 = prec_chol[tile + 2, j + 2], prec_chol[tile + 2, j + 3]
            a30 = zero if below else prec_chol[tile + 3, j]
            a31 = zero if below else prec_chol[tile + 3, j + 1]
            a32 = zero if below else prec_chol[tile + 3, j + 2]
            a33 = prec_chol[tile + 3, j + 3]
            d0, d1, d2, d3 = diff[tile], diff[tile + 1], diff[tile + 2], diff[tile + 3]
            for i in range(n_rows):
                y0[i] += (d0[i] * a00 + d1[i] * a10) + (d2[i] * a20 + d3[i] * a30)
                y1[i] += (d0[i] * a01 + d1[i] * a11) + (d2[i] * a21 + d3[i] * a31)
                y2[i] += (d0[i] * a02 + d1[i] * a12) + (d2[i] * a22 + d3[i] * a32)
                y3[i] += (d0[i] * a03 + d1[i] * a13) + (d2[i] * a23 + d3[i] * a33)
        for i in range(n_rows):
            quad[i] += (y0[i] * y0[i] + y1[i] * y1[i]) + (y2[i] * y2[i] + y3[i] * y3[i])
        j += 4
    while j < n_features:
        coef = prec_chol[0, j]
        for i in range(n_rows):
            y0[i] = diff[0, i] * coef
        l = 1
        while l + 4 <= j + 1:
            c0 = prec_chol[l, j]
            c1 = prec_chol[l + 1, j]
            c2 = prec_chol[l + 2, j]
            c3 = prec_chol[l + 3, j]
            for i in range(n_rows):
                y0[i] += (diff[l, i] * c0 + diff[l + 1, i] * c1) + (
                    diff[l + 2, i] * c2 + diff[l + 3, i] * c3
                )
            l += 4
        while l <= j:
            coef = prec_chol[l, j]
            for i in range(n_rows):
                y0[i] += diff[l, i] * coef
            l += 1
        for i in range(n_rows):
            quad[i] += y0[i] * y0[i]
        j += 1


@numba.jit(**_JIT)
def _log_prob(Xt, means, prec_chol, log_norm, full, log_background, limit, out, row_max):
    """``out[k, i]``: log weight_k + log N(x_i | k); ``row_max[i]``: its maximum over k.

    ``log_norm`` holds each component's log weight plus log normalising constant.
    The maximum includes ``log_background`` (-inf when there is none), the
    log-density of an extra component that is the same for every row. The
    quadratic forms are computed in the dtype of ``means`` and ``prec_chol``
    (float32 only with float32 ``Xt``), the log-densities in the dtype of ``out``
    and ``row_max``, which is that of ``means``. Returns how many quadratic
    forms were not below ``limit`` (inf or NaN from an overflow in float32).
    """
    n_features, n_rows = Xt.shape
    n_components = means.shape[0]
    quad = np.empty(n_rows, means.dtype)
    # The constants in the dtype of the log-densities: a float64 literal would
    # promote float32 arithmetic to float64.
    bases = np.empty(n_components + 3, out.dtype)
    bases[:n_components] = log_norm
    bases[n_components] = 0.5
    bases[n_components + 1] = _QUAD_MAX
    bases[n_components + 2] = limit
    half = bases[n_components]
    quad_max = bases[n_components + 1]
    typed_limit = bases[n_components + 2]
    wide = full and n_features >= _WIDE_FEATURES
    diff = np.empty((n_features if wide else 0, n_rows), means.dtype)
    outputs = np.empty((4 if wide else 1, n_rows), means.dtype)
    y = outputs[0]
    row_max[:] = log_background
    n_over = 0
    for k in range(n_components):
        if not full:
            n_over += _diagonal_log_density(
                Xt, means[k], prec_chol[k, 0], bases[k], half, quad_max, typed_limit, quad,
                out[k], row_max,
            )  # fmt: skip
            continue
        quad[:] = 0.0
        if wide:
            _whitened_squares(Xt, means[k], prec_chol[k], diff, outputs, quad)
        elif full:
            # y_j = sum_{l <= j} (x_l - mean_l) P[l, j], P upper triangular.
            for j in range(n_features):
                y[:] = 0.0
                for l in range(j + 1):
                    coef = prec_chol[k, l, j]
                    centre = means[k, l]
                    for i in range(n_rows):
                        y[i] += (Xt[l, i] - centre) * coef
                for i in range(n_rows):
                    quad[i] += y[i] * y[i]
        if limit < np.inf:
            for i in range(n_rows):
                n_over += 0 if quad[i] < typed_limit else 1
        base = bases[k]
        for i in range(n_rows):
            value = base - half * min(quad[i], quad_max)
            out[k, i] = value
            row_max[i] = max(row_max[i], value)
    return n_over


@numba.jit(**_JIT)
def _diagonal_log_density(Xt, mean, prec, base, half, quad_max, limit, quad, out, row_max):
    """``out[i] = base - half min(q_i, quad_max)``, ``q_i = sum_j ((x_ji - mean_j) prec_j)^2``.

    Also raises ``row_max`` to ``out`` and returns how many ``q_i`` were not below
    ``limit``. All features but the last four are summed into ``quad``, four per
    sweep (one load and store of ``quad`` per four features: 1.4x faster at 32-64
    features); the last four (all of them, with zero coefficients for the missing
    ones, below four features) are summed in the sweep that also takes the
    log-density, the row maximum and the overflow count: one pass per component
    where separate loops took three.
    """
    n_features, n_rows = Xt.shape
    last = max(n_features - 4, 0)
    if last > 0:
        quad[:] = 0.0
        j = 0
        while j + 4 <= last:
            x0, x1, x2, x3 = Xt[j], Xt[j + 1], Xt[j + 2], Xt[j + 3]
            c0, c1, c2, c3 = mean[j], mean[j + 1], mean[j + 2], mean[j + 3]
            p0, p1, p2, p3 = prec[j], prec[j + 1], prec[j + 2], prec[j + 3]
            for i in range(n_rows):
                t0 = (x0[i] - c0) * p0
                t1 = (x1[i] - c1) * p1
                t2 = (x2[i] - c2) * p2
                t3 = (x3[i] - c3) * p3
                quad[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
            j += 4
        while j < last:
            coef = prec[j]
            centre = mean[j]
            for i in range(n_rows):
                t = (Xt[j, i] - centre) * coef
                quad[i] += t * t
            j += 1
    # The last four features; a missing one repeats the last feature with a zero
    # coefficient (its term is exactly 0 for finite rows).
    f0 = last
    f1 = min(last + 1, n_features - 1)
    f2 = min(last + 2, n_features - 1)
    f3 = min(last + 3, n_features - 1)
    zero = prec[f0] - prec[f0]
    x0, x1, x2, x3 = Xt[f0], Xt[f1], Xt[f2], Xt[f3]
    c0, c1, c2, c3 = mean[f0], mean[f1], mean[f2], mean[f3]
    p0 = prec[f0]
    p1 = prec[f1] if last + 1 < n_features else zero
    p2 = prec[f2] if last + 2 < n_features else zero
    p3 = prec[f3] if last + 3 < n_features else zero
    n_over = 0
    for i in range(n_rows):
        t0 = (x0[i] - c0) * p0
        t1 = (x1[i] - c1) * p1
        t2 = (x2[i] - c2) * p2
        t3 = (x3[i] - c3) * p3
        q = (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
        if last > 0:
            q += quad[i]
        n_over += 0 if q < limit else 1
        # Below a finite limit (float32 forms) a larger q is computed again: no clip.
        value = base - half * (q if limit < np.inf else min(q, quad_max))
        out[i] = value
        row_max[i] = max(row_max[i], value)
    return n_over


# Totals are multiplied in this many products of at most _LOG_FACTORS rows each
# before one log is taken per product.
_LOG_GROUPS = 64
_LOG_FACTORS = 16


@numba.jit(**_REDUCE)
def _sum_of_logs(total, n_rows):
    """``sum(log(total[:n_rows]))`` for totals in [1, n_components + 1].

    A scalar log per row costs as much as the rest of the statistics at small D.
    Rows are multiplied into ``_LOG_GROUPS`` products (a loop that vectorises),
    then one log is taken per product. A product holds at most 16 factors, so at
    most (K + 1)^16: far from overflow for any K a mixture uses.
    """
    result = 0.0
    products = np.empty(_LOG_GROUPS)
    segment = _LOG_GROUPS * _LOG_FACTORS
    for first in range(0, n_rows, segment):
        last = min(first + segment, n_rows)
        products[:] = 1.0
        for start in range(first, last, _LOG_GROUPS):
            width = min(_LOG_GROUPS, last - start)
            for g in range(width):
                products[g] *= total[start + g]
        for g in range(_LOG_GROUPS):
            result += math.log(products[g])
    return result


@numba.jit(**_REDUCE)
def _stats_from_prob(
    Xt, weight, has_weight, means, single_stats, prob, prob_total, row_max, log_background,
    full_scatter, acc, work,
):  # fmt: skip
    """Add one chunk's soft counts and shifted sums to ``acc``; return its log-likelihood.

    ``prob`` holds exp(shifted log-densities), ``prob_total`` their sums over
    components; ``acc`` is (n_k, shift_sums, second),
    sums about ``means``. ``single_stats`` (float32 ``Xt`` and ``means``, diagonal
    scatter): a chunk's sums of differences (and, without weights, its soft
    counts) are taken in float32, then added to the float64 accumulators.
    ``log_background`` (-inf: none) adds to each row's total but to no statistic.
    ``work`` holds the block's work arrays (see ``_work_arrays``), allocated once
    per block rather than once per chunk.
    """
    n_k, shift_sums, second = acc
    total, row_scale, r, scale_x, r_x, zero, diff, rdiff = work
    n_features, n_rows = Xt.shape
    n_components = means.shape[0]
    if log_background > -np.inf:
        for i in range(n_rows):
            total[i] = prob_total[i] + math.exp(log_background - row_max[i])
    else:
        for i in range(n_rows):
            total[i] = prob_total[i]
    # Responsibilities are prob / total (not exp(log p - logsumexp)): rows far from
    # every component would otherwise absorb log K and not sum to one.
    log_likelihood = 0.0
    if has_weight:
        for i in range(n_rows):
            w = weight[i]
            row_scale[i] = w / total[i]
            if w != 0.0:
                log_likelihood += w * (math.log(total[i]) + row_max[i])
    else:
        for i in range(n_rows):
            row_scale[i] = 1.0 / total[i]
            log_likelihood += row_max[i]
        log_likelihood += _sum_of_logs(total, n_rows)
    if not full_scatter:
        # Responsibilities are formed by the sums (prob times the row's scale).
        if single_stats and not has_weight:
            # Unweighted float32 responsibilities lie in [0, 1] and need no scaling
            # (one that underflows is below float32's resolution of its component's
            # sums): counts and sums of each chunk in float32, as scikit-learn's.
            for i in range(n_rows):
                scale_x[i] = row_scale[i]
            for k in range(n_components):
                n_k[k] += _diagonal_sums(
                    Xt, means[k], prob[k], scale_x, r_x, zero, 1.0, shift_sums[k], second[k, 0]
                )
        elif single_stats:
            # Weighted float32 responsibilities are scaled to sum to 1, so that no
            # weight overflows or underflows them; the sums are scaled back in float64.
            for k in range(n_components):
                count = 0.0
                for i in range(n_rows):
                    count += prob[k, i] * row_scale[i]
                n_k[k] += count
                if count == 0.0:
                    continue
                inverse = 1.0 / count
                for i in range(n_rows):
                    scale_x[i] = row_scale[i] * inverse
                _diagonal_sums(
                    Xt, means[k], prob[k], scale_x, r_x, zero, count, shift_sums[k], second[k, 0]
                )
        else:
            for k in range(n_components):
                n_k[k] += _diagonal_sums(
                    Xt, means[k], prob[k], row_scale, r, 0.0, 1.0, shift_sums[k], second[k, 0]
                )
        return log_likelihood
    for k in range(n_components):
        count = 0.0
        for i in range(n_rows):
            r[i] = prob[k, i] * row_scale[i]
            count += r[i]
        n_k[k] += count
        for a in range(n_features):
            centre = means[k, a]
            first = 0.0
            for i in range(n_rows):
                d = Xt[a, i] - centre
                diff[a, i] = d
                t = r[i] * d
                rdiff[a, i] = t
                first += t
            shift_sums[k, a] += first
        _add_scatter(rdiff, diff, second[k])
    return log_likelihood


@numba.jit(**_REDUCE)
def _diagonal_sums(Xt, centre, prob, scale, weight, zero, unit, shift_sums, second):
    """``shift_sums += unit sum_i w_i d_i``, ``second += unit sum_i w_i d_i^2``; ``sum_i w_i``.

    ``w = prob * scale`` (a component's responsibilities), ``d = x - centre`` per
    feature; the sums over the chunk run in the dtype of ``prob``, ``scale``,
    ``weight`` and ``zero`` (float32 for float32 rows' responsibilities), ``unit``
    scales them back in float64. Up to 8 features (two sweeps) each sweep forms the
    weights itself, cheaper than a pass that stores them; more features, a first
    pass stores them in ``weight`` for the sweeps to load. The diagonal scatter
    needs each difference once: no other work arrays. Four features per sweep:
    eight running sums, where one feature's two sums made each step wait for the
    previous one's addition (2x faster).
    """
    n_features, n_rows = Xt.shape
    fused = n_features <= 8
    count = zero
    if not fused:
        for i in range(n_rows):
            w = prob[i] * scale[i]
            weight[i] = w
            count += w
    a = 0
    while a + 4 <= n_features:
        x0, x1, x2, x3 = Xt[a], Xt[a + 1], Xt[a + 2], Xt[a + 3]
        c0, c1, c2, c3 = centre[a], centre[a + 1], centre[a + 2], centre[a + 3]
        f0 = f1 = f2 = f3 = zero
        s0 = s1 = s2 = s3 = zero
        weights = zero
        for i in range(n_rows):
            w = prob[i] * scale[i] if fused else weight[i]
            weights += w
            d0 = x0[i] - c0
            d1 = x1[i] - c1
            d2 = x2[i] - c2
            d3 = x3[i] - c3
            t0 = w * d0
            t1 = w * d1
            t2 = w * d2
            t3 = w * d3
            f0 += t0
            f1 += t1
            f2 += t2
            f3 += t3
            s0 += t0 * d0
            s1 += t1 * d1
            s2 += t2 * d2
            s3 += t3 * d3
        shift_sums[a] += unit * f0
        shift_sums[a + 1] += unit * f1
        shift_sums[a + 2] += unit * f2
        shift_sums[a + 3] += unit * f3
        second[a] += unit * s0
        second[a + 1] += unit * s1
        second[a + 2] += unit * s2
        second[a + 3] += unit * s3
        if fused and a == 0:
            count = weights
        a += 4
    while a < n_features:
        c = centre[a]
        first = zero
        square = zero
        weights = zero
        for i in range(n_rows):
            w = prob[i] * scale[i] if fused else weight[i]
            weights += w
            d = Xt[a, i] - c
            t = w * d
            first += t
            square += t * d
        shift_sums[a] += unit * first
        second[a] += unit * square
        if fused and a == 0:
            count = weights
        a += 1
    return count


@numba.jit(**_REDUCE)
def _add_scatter(rdiff, diff, second):
    """``second[a, b] += sum_i rdiff[a, i] diff[b, i]`` for ``a <= b`` (and some ``a > b``).

    Four rows by four columns per sweep: eight loads feed sixteen products, where
    a row at a time (one load of ``rdiff``, four of ``diff`` for four products) is
    bound by loads; 1.7-2.4x faster at 32-64 features. The diagonal tiles also fill
    a few entries below the diagonal, which the caller ignores.
    """
    n_features, n_rows = diff.shape
    a = 0
    while a + 4 <= n_features:
        b = a
        while b + 4 <= n_features:
            c00 = c01 = c02 = c03 = 0.0
            c10 = c11 = c12 = c13 = 0.0
            c20 = c21 = c22 = c23 = 0.0
            c30 = c31 = c32 = c33 = 0.0
            for i in range(n_rows):
                t0 = rdiff[a, i]
                t1 = rdiff[a + 1, i]
                t2 = rdiff[a + 2, i]
                t3 = rdiff[a + 3, i]
                d0 = diff[b, i]
                d1 = diff[b + 1, i]
                d2 = diff[b + 2, i]
                d3 = diff[b + 3, i]
                c00 += t0 * d0
                c01 += t0 * d1
                c02 += t0 * d2
                c03 += t0 * d3
                c10 += t1 * d0
                c11 += t1 * d1
                c12 += t1 * d2
                c13 += t1 * d3
                c20 += t2 * d0
                c21 += t2 * d1
                c22 += t2 * d2
                c23 += t2 * d3
                c30 += t3 * d0
                c31 += t3 * d1
                c32 += t3 * d2
                c33 += t3 * d3
            second[a, b] += c00
            second[a, b + 1] += c01
            second[a, b + 2] += c02
            second[a, b + 3] += c03
            second[a + 1, b] += c10
            second[a + 1, b + 1] += c11
            second[a + 1, b + 2] += c12
            second[a + 1, b + 3] += c13
            second[a + 2, b] += c20
            second[a + 2, b + 1] += c21
            second[a + 2, b + 2] += c22
            second[a + 2, b + 3] += c23
            second[a + 3, b] += c30
            second[a + 3, b + 1] += c31
            second[a + 3, b + 2] += c32
            second[a + 3, b + 3] += c33
            b += 4
        while b < n_features:
            c0 = c1 = c2 = c3 = 0.0
            for i in range(n_rows):
                d = diff[b, i]
                c0 += rdiff[a, i] * d
                c1 += rdiff[a + 1, i] * d
                c2 += rdiff[a + 2, i] * d
                c3 += rdiff[a + 3, i] * d
            second[a, b] += c0
            second[a + 1, b] += c1
            second[a + 2, b] += c2
            second[a + 3, b] += c3
            b += 1
        a += 4
    while a < n_features:
        for b in range(a, n_features):
            cross = 0.0
            for i in range(n_rows):
                cross += rdiff[a, i] * diff[b, i]
            second[a, b] += cross
        a += 1


# exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody & Waite's two-part
# ln 2, so r is exact to rounding), |r| <= ln(2)/2; exp(r) by its Taylor series to
# degree 13 (truncation below 1e-17 relative). 2^n is its exponent bits read as a
# float (an LLVM bitcast), so the loop vectorises: numba's own exp is a scalar
# call, four times slower than this. Within 2 ulp of NumPy's exp on [-700, 0].
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@numba.jit(**{**_JIT, "fastmath": {"contract"}})
def _exp_shifted(log_prob, row_max, n_rows, prob, total):
    """``prob[k, i] = exp(max(log_prob[k, i] - row_max[i], _LOG_PROB_FLOOR))``, float64.

    ``prob`` may be ``log_prob`` itself. The shift and the exponential share one
    sweep over the values. ``total[i]``: the sum of ``prob[:, i]``, taken as the
    values are stored (a pass of its own would load them again).
    """
    total[:n_rows] = 0.0
    for k in range(prob.shape[0]):
        source = log_prob[k]
        row = prob[k]
        for i in range(n_rows):
            x = max(source[i] - row_max[i], _LOG_PROB_FLOOR)
            n = math.floor(x * _LOG2E + 0.5)
            r = (x - n * _LN2_HI) - n * _LN2_LO
            p = 1.0 / 6227020800.0
            p = p * r + 1.0 / 479001600.0
            p = p * r + 1.0 / 39916800.0
            p = p * r + 1.0 / 3628800.0
            p = p * r + 1.0 / 362880.0
            p = p * r + 1.0 / 40320.0
            p = p * r + 1.0 / 5040.0
            p = p * r + 1.0 / 720.0
            p = p * r + 1.0 / 120.0
            p = p * r + 1.0 / 24.0
            p = p * r + 1.0 / 6.0
            p = p * r + 0.5
            p = p * r + 1.0
            p = p * r + 1.0
            value = p * int64_as_float64((np.int64(n) + 1023) << 52)
            row[i] = value
            total[i] += value


# The float32 twin: 2^n from float32 exponent bits. float32 holds no normal
# number below exp(-87.3), so shifted values below -87 give exactly 0, as
# float32's exp itself underflows (not a floor: a floored weight of 1.6e-38 times
# the squared distance of a far row could reach any size). Such a responsibility
# is below float32's resolution next to the row's largest, 1.
# ln 2 = _LN2_HI_SINGLE + _LN2_LO_SINGLE with an 11-bit high part, so n ln 2_hi is
# exact for every |n| <= 126; exp(r) by its Taylor series to degree 7 (truncation
# below 1e-8 relative, under one float32 ulp).
_LOG_PROB_FLOOR_SINGLE = -87.0
_LOG2E_SINGLE = np.float32(_LOG2E)
_LN2_HI_SINGLE = np.float32(0.693359375)
_LN2_LO_SINGLE = np.float32(-2.12194440e-4)
_HALF_SINGLE = np.float32(0.5)
_FLOOR_SINGLE = np.float32(_LOG_PROB_FLOOR_SINGLE)
_INV_FACTORIALS_SINGLE = tuple(np.float32(1.0 / math.factorial(j)) for j in range(8))


@numba.jit(**{**_JIT, "fastmath": {"contract"}})
def _exp_shifted_single(log_prob, row_max, n_rows, prob, total):
    """``prob[k, i] = exp(log_prob[k, i] - row_max[i])`` in float32, 0 below exp(-87).

    The shift is taken in the dtype of ``log_prob`` and ``row_max`` (float32, or
    float64 for log-densities too large for float32's quadratic forms); the
    exponential of the (at most 87 in magnitude) shifted value is float32: twice
    the lanes of float64 per vector, and half the polynomial. Within 1 ulp
    (float32) of the exponential of the float32-rounded shifted value on (-87, 0];
    that rounding adds at most |x| * 6e-8 relative. ``total[i]``: the float32 sum
    of ``prob[:, i]``, as in ``_exp_shifted``.
    """
    c0, c1, c2, c3, c4, c5, c6, c7 = _INV_FACTORIALS_SINGLE
    total[:n_rows] = 0.0
    for k in range(prob.shape[0]):
        source = log_prob[k]
        row = prob[k]
        for i in range(n_rows):
            shifted = source[i] - row_max[i]
            x = np.float32(max(shifted, _FLOOR_SINGLE))
            # np.floor keeps float32 (math.floor would return an integer and
            # promote the reduction to float64).
            n = np.floor(x * _LOG2E_SINGLE + _HALF_SINGLE)
            r = (x - n * _LN2_HI_SINGLE) - n * _LN2_LO_SINGLE
            p = c7
            p = p * r + c6
            p = p * r + c5
            p = p * r + c4
            p = p * r + c3
            p = p * r + c2
            p = p * r + c1
            p = p * r + c0
            # A zero scale (all exponent bits clear) flushes values below the floor.
            exponent = (np.int32(n) + np.int32(127)) << np.int32(23)
            value = p * int32_as_float32(exponent if shifted > _FLOOR_SINGLE else 0)
            row[i] = value
            total[i] += value


# A float32 quadratic form at or above this may have overflowed on the way.
_SINGLE_QUAD_LIMIT = 1e37

# A diagonal scatter summed in float32 below this fraction of its sum of squared
# differences to the centre is summed again in float64 (float32 sums carry a
# relative rounding of about 1e-7, so such a scatter keeps about five digits).
_SINGLE_RESOLVED = 1e-2


@numba.jit(**_JIT)
def _work_arrays(n_rows, n_features, full_scatter, dtype):
    """``_stats_from_prob``'s work arrays for chunks of ``n_rows`` rows.

    (row totals, row scales, responsibilities, row scales and responsibilities in
    ``dtype``, a zero of ``dtype``, and for the full scatter the differences and
    weighted differences, features x rows).
    """
    scatter_rows = n_rows if full_scatter else 0
    return (
        np.empty(n_rows),
        np.empty(n_rows),
        np.empty(n_rows),
        np.empty(n_rows, dtype),
        np.empty(n_rows, dtype),
        np.zeros(1, dtype)[0],
        np.empty((n_features if full_scatter else 0, scatter_rows)),
        np.empty((n_features if full_scatter else 0, scatter_rows)),
    )


@numba.jit(**_JIT)
def _estep_tasks(
    X, task_rows, counters, single, single_stats, weight, has_weight, means, prec, means_x,
    prec_x, log_norm, full, background, full_scatter, n_k, shift_sums, second, log_likelihood,
):  # fmt: skip
    """Claim tasks (runs of ``task_rows`` rows) until none is left; their statistics.

    Task ``t`` (rows ``t * task_rows`` on) is claimed by the thread that takes
    ``t`` from ``counters[0]``, and its sums go to slot ``t`` of ``n_k``,
    ``shift_sums``, ``second`` and ``log_likelihood``, whichever thread runs it:
    summing the slots in order then gives the same result on any number of
    threads. ``counters[1]`` counts the finished tasks. Every chunk of a task runs
    in this one call: no Python (and no GIL) between chunks or tasks.

    ``single`` (X is float32): the quadratic forms of the log-densities, most of
    the arithmetic at larger D, are computed in float32 from ``means_x`` and
    ``prec_x``, the float32 copies of ``means`` and ``prec``; a chunk where one
    of them overflows is computed again in float64. ``single_stats`` (float32
    rows, diagonal scatter): each chunk's sums of differences to ``means_x`` are
    taken in float32. Everything else (the exponentials, responsibilities, full
    scatter and every accumulator) is float64 for either dtype: float32 rows meet
    float64 parameters there, with no float64 copy of the chunk.
    """
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    n_tasks = log_likelihood.shape[0]
    chunk = min(_CHUNK_ROWS, max(min(task_rows, n_rows), 1))
    log_prob_full = np.empty((n_components, chunk))
    prob_full = np.empty((n_components, chunk), X.dtype)
    row_max_full = np.empty(chunk)
    # float32 log-densities (``single``) are taken relative to the largest log
    # normalising constant, so that their rounding follows the size of the
    # quadratic forms and of the constants' differences, not of the constants.
    log_offset = -np.inf
    for k in range(n_components):
        if np.isfinite(log_norm[k]):
            log_offset = max(log_offset, log_norm[k])
    log_offset = log_offset if np.isfinite(log_offset) else 0.0
    log_norm_x = log_norm - log_offset
    background_x = background - log_offset
    single_rows = chunk if single else 0
    log_prob_single_full = np.empty((n_components, single_rows), means_x.dtype)
    row_max_single_full = np.empty(single_rows, means_x.dtype)
    prob_total = np.empty(chunk, X.dtype)
    Xt_full = np.empty((n_features, chunk), X.dtype)
    work_full = _work_arrays(chunk, n_features, full_scatter, X.dtype)
    while True:
        task = fetch_add(counters, 0, 1)
        if task >= n_tasks:
            break
        acc = (n_k[task], shift_sums[task], second[task])
        first = task * task_rows
        last = min(first + task_rows, n_rows)
        task_log_likelihood = 0.0
        for start in range(first, last, chunk):
            m = min(chunk, last - start)
            log_prob, prob, row_max, Xt, work = (
                log_prob_full,
                prob_full,
                row_max_full,
                Xt_full,
                work_full,
            )
            log_prob_single, row_max_single = log_prob_single_full, row_max_single_full
            if m < chunk:
                # The kernels are compiled for contiguous arrays: a short chunk gets
                # arrays of its own size.
                log_prob = np.empty((n_components, m))
                prob = np.empty((n_components, m), X.dtype)
                row_max = np.empty(m)
                Xt = np.empty((n_features, m), X.dtype)
                work = _work_arrays(m, n_features, full_scatter, X.dtype)
                log_prob_single = np.empty((n_components, m if single else 0), means_x.dtype)
                row_max_single = np.empty(m if single else 0, means_x.dtype)
            transpose_rows(X, start, m, Xt)
            done = False
            if single:
                over = _log_prob(
                    Xt, means_x, prec_x, log_norm_x, full, background_x, _SINGLE_QUAD_LIMIT,
                    log_prob_single, row_max_single,
                )  # fmt: skip
                done = over == 0
                if done:
                    _exp_shifted_single(log_prob_single, row_max_single, m, prob, prob_total)
                    for i in range(m):
                        row_max[i] = row_max_single[i] + log_offset
            if not done:
                # float64 parameters make the arithmetic float64 whatever the rows' dtype.
                _log_prob(Xt, means, prec, log_norm, full, background, np.inf, log_prob, row_max)
                if single:
                    _exp_shifted_single(log_prob, row_max, m, prob, prob_total)
                else:
                    _exp_shifted(log_prob, row_max, m, prob, prob_total)
            rows_weight = weight[start : start + m] if has_weight else weight
            # Two calls, not one with a conditional argument: the centres' dtype
            # selects the compiled specialisation.
            if single_stats:
                task_log_likelihood += _stats_from_prob(
                    Xt, rows_weight, has_weight, means_x, True, prob, prob_total, row_max,
                    background, full_scatter, acc, work,
                )  # fmt: skip
            else:
                task_log_likelihood += _stats_from_prob(
                    Xt, rows_weight, has_weight, means, False, prob, prob_total, row_max,
                    background, full_scatter, acc, work,
                )  # fmt: skip
        log_likelihood[task] = task_log_likelihood
        # Sequentially consistent: a thread that sees the count sees the slot.
        fetch_add(counters, 1, 1)


@numba.jit(**_JIT)
def _wait_tasks(counters, n_tasks, max_spins):
    """Spin until ``counters[1]`` reaches ``n_tasks``, at most ``max_spins`` times.

    Whether it did. Spinning rather than sleeping: a thread woken from sleep here
    takes 50-100 microseconds to run again, a tenth of a pass over 1e5 rows.
    """
    for _ in range(max_spins):
        if load_acquire(counters, 1) >= n_tasks:
            return True
        spin_pause()
    return load_acquire(counters, 1) >= n_tasks


@numba.jit(**_REDUCE)
def _sum_slots(n_k, shift_sums, second, log_likelihood):
    """The slots' sums in slot order (the same whichever threads filled them)."""
    n_slots, n_components, n_features = shift_sums.shape
    total_n = np.zeros(n_components)
    total_shift = np.zeros((n_components, n_features))
    total_second = np.zeros(second.shape[1:])
    total_log_likelihood = 0.0
    for t in range(n_slots):
        total_log_likelihood += log_likelihood[t]
        for k in range(n_components):
            total_n[k] += n_k[t, k]
            for a in range(n_features):
                total_shift[k, a] += shift_sums[t, k, a]
            for a in range(second.shape[2]):
                for b in range(n_features):
                    total_second[k, a, b] += second[t, k, a, b]
    return total_n, total_shift, total_second, total_log_likelihood


@numba.jit(**_JIT)
def _finish_block(n_k, shift_sums, second, centres, full_scatter, check):
    """Block means and scatter matrices from sums about ``centres``; whether to keep them.

    Shift m = sum r d / n, W = S - n m m^T; the full sums fill the upper
    triangle, mirrored below. A component with no weight has mean 0. With
    ``check`` (float32 diagonal sums), a scatter is kept only where no variance
    keeps less than ``_SINGLE_RESOLVED`` of its sum about the centre: a variance
    all but cancelled by the shift of the block's mean from the centre (a far
    start, or a component of repeated rows) would be mostly float32 rounding, and a
    zero variance could come out as rounding noise.
    """
    n_components, n_features = shift_sums.shape
    mean_k = np.zeros((n_components, n_features))
    shift = np.zeros(n_features)
    scatter_k = np.empty_like(second)
    resolved = True
    for k in range(n_components):
        count = n_k[k]
        for a in range(n_features):
            shift[a] = shift_sums[k, a] / count if count > 0 else 0.0
            mean_k[k, a] = np.float64(centres[k, a]) + shift[a] if count > 0 else 0.0
        if full_scatter:
            for a in range(n_features):
                for b in range(n_features):
                    sums = second[k, a, b] if a <= b else second[k, b, a]
                    scatter_k[k, a, b] = sums - count * shift[a] * shift[b]
        else:
            for a in range(n_features):
                scatter_k[k, 0, a] = second[k, 0, a] - count * shift[a] * shift[a]
                if check and scatter_k[k, 0, a] < _SINGLE_RESOLVED * second[k, 0, a]:
                    resolved = False
    return mean_k, scatter_k, resolved


def _as_kernel_precisions(precisions_chol: np.ndarray, form: str) -> tuple[np.ndarray, bool]:
    # One jitted signature serves both forms: diag factors travel as (K, 1, D).
    if form == "full":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64), True
    if form == "diag":
        return np.ascontiguousarray(precisions_chol, dtype=np.float64)[:, None, :], False
    raise ValueError(f"unknown precision form {form!r}; expected 'full' or 'diag'")


def estep_stats(
    X, sample_weight, means, precisions_chol, log_norm, form, scatter, log_background=None
):
    """Fused twin of :func:`gaussmix.kernels._numpy.estep_stats` (same signature)."""
    tasks = EstepTasks(
        X, sample_weight, means, precisions_chol, log_norm, form, scatter, log_background
    )
    tasks.run()
    return tasks.result()


# Statistics slots of one pass: at most this many tasks, and this many bytes.
_MAX_TASKS = 32
_MAX_SLOT_BYTES = 4 << 20


def task_rows_for(
    n_rows: int, n_components: int, n_features: int, scatter: str, block_rows: int | None = None
) -> int | None:
    """Rows per task of an :class:`EstepTasks` pass over ``n_rows`` rows.

    Without ``block_rows``: a whole number of chunks, for at most ``_MAX_TASKS``
    tasks whose statistics slots take at most ``_MAX_SLOT_BYTES``. It depends on
    the shape alone, not on the thread count, so a fit gives the same numbers on
    any number of threads. With ``block_rows`` (rows per task chosen by the user):
    that, or None when its slots would take more than ``_MAX_SLOT_BYTES`` (the rows
    then run as blocks whose statistics are merged as they come).
    """
    second = n_features if scatter == "full" else 1
    slot_bytes = 8 * (1 + n_components * (1 + n_features + second * n_features))
    if block_rows is not None:
        fits = -(-n_rows // max(block_rows, 1)) * slot_bytes <= _MAX_SLOT_BYTES
        return max(block_rows, 1) if fits else None
    n_tasks = max(1, min(_MAX_TASKS, _MAX_SLOT_BYTES // slot_bytes))
    return max(1, -(-n_rows // (n_tasks * _CHUNK_ROWS))) * _CHUNK_ROWS


class EstepTasks:
    """One pass of the fused E-step over rows, as tasks any number of threads claim.

    Each thread calls :meth:`run` (which releases the GIL): it takes tasks of
    ``task_rows`` rows until none is left. :meth:`wait` waits for the tasks other
    threads took; :meth:`result` sums their statistics in row order (so the numbers
    do not depend on how many threads ran, or which ran what) and returns what
    :func:`gaussmix.kernels._numpy.estep_stats` returns for all the rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight, means, precisions_chol, log_norm, form, scatter, log_background
        As for :func:`estep_stats`.
    task_rows : int or None
        Rows per task; None: all the rows in one task.
    """

    def __init__(
        self, X, sample_weight, means, precisions_chol, log_norm, form, scatter,
        log_background=None, task_rows=None,
    ) -> None:  # fmt: skip
        if scatter not in ("full", "diag"):
            raise ValueError(f"unknown scatter kind {scatter!r}; expected 'full' or 'diag'")
        self._means = np.ascontiguousarray(means, dtype=np.float64)
        self._log_norm = np.ascontiguousarray(log_norm, dtype=np.float64)
        self._prec, self._full = _as_kernel_precisions(precisions_chol, form)
        self._has_weight = sample_weight is not None
        self._weight = (
            np.ascontiguousarray(sample_weight, dtype=np.float64)
            if self._has_weight
            else np.empty(0)
        )
        self._full_scatter = scatter == "full"
        self._background = -np.inf if log_background is None else float(log_background)
        X = np.ascontiguousarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self._X = X
        self._single = X.dtype == np.float32
        self._means_x = self._means.astype(X.dtype, copy=False)
        self._prec_x = self._prec.astype(X.dtype, copy=False)
        self._single_stats = self._single and not self._full_scatter
        n_rows = X.shape[0]
        self.task_rows = max(int(task_rows or n_rows), 1)
        self.n_tasks = max(-(-n_rows // self.task_rows), 1)
        self._reset()

    def _reset(self) -> None:
        n_components, n_features = self._means.shape
        second = n_features if self._full_scatter else 1
        self._counters = np.zeros(2, dtype=np.int64)
        self._n_k = np.zeros((self.n_tasks, n_components))
        self._shift_sums = np.zeros((self.n_tasks, n_components, n_features))
        self._second = np.zeros((self.n_tasks, n_components, second, n_features))
        self._log_likelihood = np.zeros(self.n_tasks)

    def run(self) -> None:
        """Take and run tasks until none is left (from any thread; GIL released)."""
        _estep_tasks(
            self._X, self.task_rows, self._counters, self._single, self._single_stats,
            self._weight, self._has_weight, self._means, self._prec, self._means_x,
            self._prec_x, self._log_norm, self._full, self._background, self._full_scatter,
            self._n_k, self._shift_sums, self._second, self._log_likelihood,
        )  # fmt: skip

    def wait(self, max_spins: int = 200_000) -> bool:
        """Wait (spinning, GIL released) for the tasks other threads run; whether all ended.

        False when they were still running after ``max_spins`` spins (a few
        milliseconds): the caller then waits for those threads themselves.
        """
        return bool(_wait_tasks(self._counters, self.n_tasks, max_spins))

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``(n_k, mean_k, scatter_k, log_likelihood)`` of all the rows (after every task)."""
        while True:
            n_k, shift_sums, second, log_likelihood = _sum_slots(
                self._n_k, self._shift_sums, self._second, self._log_likelihood
            )
            centres = self._means_x if self._single_stats else self._means
            mean_k, scatter_k, resolved = _finish_block(
                n_k, shift_sums, second, centres, self._full_scatter, self._single_stats
            )
            if resolved:
                scatter_k = scatter_k if self._full_scatter else scatter_k[:, 0, :]
                return n_k, mean_k, scatter_k, float(log_likelihood)
            # float32 sums too coarse for these rows: sum them again in float64.
            self._single_stats = False
            self._reset()
            self.run()
