"""Jitted agglomeration for model-based hierarchical clustering (mclust's hcVVV, hcEII).

Every row starts as its own group; each step merges the pair of groups whose merge
increases the criterion least (Fraley, 1998). A group is kept as its weight ``n``,
row count, mean, centred scatter ``W`` (lower triangle) and ``tr W``, and the cost of
a merge is recomputed from those statistics (the Chan-Golub-LeVeque update of the
mean and scatter), never from the rows.

- ``"VVV"``: a group's term is ``n log(det(W / n) + beta (tr W + alpha) / n)``;
  ``det`` counts as 0 while the group has no more rows than features (``W`` is
  singular). The cost of a merge is the merged group's term minus the two terms.
  (mclust prices a pair of single rows by the trace alone even when that pair has
  more rows than features, which only differs for one feature, where mclust's own
  initialisation does not use this criterion; here the rule is the same for all.)
- ``"EII"``: Ward's cost ``n_a n_b / (n_a + n_b) |mean_a - mean_b|^2``.

With ``mclust_factors`` the VVV costs are those mclust's Fortran (``hcvvv``, 6.0.0)
computes rather than the criterion above. mclust keeps a group's scatter as a
triangular factor ``R`` (``R^T R = W``), and when it stores the factor of a merged
group it writes the factor's *first* row into every stored row; a stored row ``k``
(1-based) is read back from column ``k``. So a group of ``c`` rows that is read back
from storage has the scatter ``W'_ab = min(a, b, c - 1) r_a r_b`` (1-based ``a``,
``b``), with ``r = W[0, :] / sqrt(W_11)`` the first row of its factor. Only the group
made by the latest merge is used with its own factor (the costs of its pairs are
computed right after the merge, and a merge of it at the next step reuses that
factor); every other group enters a merge, and the cost of a pair, through ``W'``.
The new group's term is the chosen cost plus the two terms (mclust's ``tmop``), and
its trace is exact. When ``W_11 = 0`` (the first column constant within the group)
``r`` is the first row of the factor mclust starts from: that of the latest group
when it takes part, else that of the group in the higher slot, else (two single
rows) ``sqrt(n_a n_b / (n_a + n_b)) (mean_a - mean_b)``.

Group bookkeeping follows mclust's Fortran so that ties are broken the same way:
groups live in slots ``0..g-1``; the costs of all pairs are stored packed,
pair ``(i, j)`` with ``i < j`` at ``j (j - 1) / 2 + i``; the merged group takes the
lower slot ``i`` and the group in the last slot moves into slot ``j``. mclust picks
the *last* minimum in packed order (its scan keeps a cost ``<=`` the best so far).

Costs tied in real arithmetic (translated or duplicated configurations, data on a
grid) come out a few ulps apart, and which is lower then depends on how the data
were transformed and rounded (the CPU, the BLAS). So a merge counts as tied with the
cheapest when its cost exceeds the cheapest by at most ``tie_rtol`` times the
cheapest merge's magnitude, the scale of its rounding error: for VVV
``|merged term| + |term_a| + |term_b| + n_a + n_b``; for EII, with ``r = max_i |z_i|``
(means are known to about ``eps r``), ``n_a n_b / (n_a + n_b) r (2 |mean_a - mean_b|
+ eps r)``. The chosen pair is the last of the tied pairs in packed order: mclust's
rule applied to the tie.

mclust scans all pairs at every step (O(n^3) in all); here each slot ``j`` keeps
the minimum of its pairs ``(., j)`` (or, once that pair's cost went up, a lower
bound, refreshed only if the row is needed), which picks the same pair in O(n^2)
typical time.

Every sum runs in a fixed order (no fast-math), so the rounding of the costs does not
depend on the SIMD width; and the arithmetic is symmetric, to the last bit, under a
change of sign of a column of ``Z`` (the sign of an SVD's singular vectors is
arbitrary).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["MODEL_CODES", "agglomerate"]

# Element loops rather than slice assignments throughout: numba compiles array
# assignment machinery for each slice assignment, several seconds in all.
_JIT = {"nogil": True, "cache": True, "nopython": True}

MODEL_CODES = {"VVV": 0, "EII": 1}

_EPS = float(np.finfo(np.float64).eps)


@numba.jit(**_JIT)
def _trace_term(weight, trace, alpha, beta):
    """A group's VVV term while det(W) = 0: weight * log(beta (trace + alpha) / weight)."""
    return weight * math.log(beta * (trace + alpha) / weight)


@numba.jit(**_JIT)
def _full_term(scatter, weight, trace, alpha, beta, work):
    """weight * log(det(W / weight) + beta (trace + alpha) / weight), W from its lower triangle.

    The determinant is the product of the squared Cholesky pivots (no logarithms,
    which would cost more than the factorisation at small p); it is 0 when W is
    not positive definite, and taken through logarithms if the product leaves the
    floating-point range.
    """
    p = scatter.shape[0]
    scale = 1.0 / weight
    b = beta * (trace + alpha) / weight
    det = 1.0
    for j in range(p):
        s = scatter[j, j] * scale
        for k in range(j):
            s -= work[j, k] * work[j, k]
        if not s > 0.0:
            return weight * math.log(b)
        det *= s
        pivot = math.sqrt(s)
        work[j, j] = pivot
        for i in range(j + 1, p):
            t = scatter[i, j] * scale
            for k in range(j):
                t -= work[i, k] * work[j, k]
            work[i, j] = t / pivot
    if 0.0 < det < np.inf:
        return weight * math.log(det + b)
    log_det = 0.0
    for j in range(p):
        log_det += 2.0 * math.log(work[j, j])
    hi = max(log_det, math.log(b))
    lo = min(log_det, math.log(b))
    return weight * (hi + math.log1p(math.exp(lo - hi)))


@numba.jit(**_JIT)
def _merged_scatter(a, b, factor, mean, scatter, out):
    """Lower triangle of W_a + W_b + factor (mean_a - mean_b)(mean_a - mean_b)^T."""
    p = mean.shape[1]
    for r in range(p):
        dr = factor * (mean[a, r] - mean[b, r])
        for c in range(r + 1):
            out[r, c] = scatter[a, r, c] + scatter[b, r, c] + dr * (mean[a, c] - mean[b, c])


@numba.jit(**_JIT)
def _stored_scatter(first_row, count, p, out):
    """Lower triangle of mclust's stored scatter: min(a, b, c - 1) r_a r_b (1-based)."""
    rows = min(count - 1, p)
    for r in range(p):
        for c in range(r + 1):
            out[r, c] = min(c + 1, rows) * first_row[r] * first_row[c]


@numba.jit(**_JIT)
def _fill(d, a, stop, vvv, count, weight, mean, scatter, trace, term, alpha, beta, merged, work):
    """Costs of merging group ``a`` with each group ``j < stop``, ``j != a``, into ``d``.

    The cost is symmetric in the two groups to the last bit, so it does not matter
    which of a pair is ``a``.
    """
    p = mean.shape[1]
    for j in range(stop):
        if j == a:
            continue
        w = weight[a] + weight[j]
        factor = weight[a] * weight[j] / w
        dist = 0.0
        for k in range(p):
            t = mean[a, k] - mean[j, k]
            dist += t * t
        if vvv:
            tr = trace[a] + trace[j] + factor * dist
            if count[a] + count[j] > p and tr > 0.0:
                _merged_scatter(a, j, factor, mean, scatter, merged)
                merged_term = _full_term(merged, w, tr, alpha, beta, work)
            else:
                merged_term = _trace_term(w, tr, alpha, beta)  # below rank det(W) is 0
            cost = merged_term - (term[a] + term[j])
        else:
            cost = factor * dist
        d[(a * (a - 1) // 2 + j) if j < a else (j * (j - 1) // 2 + a)] = cost


@numba.jit(**_JIT)
def _rescan(d, j, row_min, row_arg):
    """Minimum of the pairs (i, j), i < j, and the last i attaining it."""
    base = j * (j - 1) // 2
    best = np.inf
    arg = 0
    for i in range(j):
        v = d[base + i]
        if v <= best:
            best = v
            arg = i
    row_min[j] = best
    row_arg[j] = arg


@numba.jit(**_JIT)
def _changed(d, i, j, row_min, row_arg, stale):
    """Update row ``j``'s minimum after the cost of pair (i, j) changed.

    A row is *stale* when its minimum may have moved up: ``row_min[j]`` is then only
    a lower bound of its pairs' costs, and the row is rescanned if it is picked.
    """
    v = d[j * (j - 1) // 2 + i]
    if stale[j]:
        if v < row_min[j]:
            row_min[j] = v  # below every other pair: the (exact) minimum
            row_arg[j] = i
            stale[j] = False
    elif row_arg[j] == i:
        if v <= row_min[j]:
            row_min[j] = v  # still the (last) minimum: every later pair costs more
        else:
            stale[j] = True
    elif v < row_min[j] or (v == row_min[j] and i > row_arg[j]):
        row_min[j] = v
        row_arg[j] = i


@numba.jit(**_JIT)
def agglomerate(Z, sample_weight, model, alpha, beta, tie_rtol, mclust_factors):
    """Merge the rows of ``Z`` into one group, cheapest merge first.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_features), float64
        The (transformed) data.
    sample_weight : ndarray of shape (n_rows,), float64
        Positive weights; all ones gives mclust's unweighted criterion.
    model : int
        ``MODEL_CODES["VVV"]`` or ``MODEL_CODES["EII"]``.
    alpha, beta : float
        The regularisation of the VVV criterion (ignored by EII).
    tie_rtol : float
        Merges whose costs exceed the cheapest by at most this times its magnitude
        are tied, and go to mclust's rule; 0 ties only equal costs.
    mclust_factors : bool
        VVV only: price merges as mclust's Fortran does, with the stored factors of
        groups other than the latest reduced to their first row (see the module
        docstring); False prices them by the criterion itself.

    Returns
    -------
    merges : ndarray of shape (n_rows - 1, 2), int64
        Merge ``s`` joins the groups whose smallest row indices are
        ``merges[s, 0] < merges[s, 1]`` (mclust's ``hcPairs``, 0-based).
    costs : ndarray of shape (n_rows - 1,)
        The increase of the criterion made by each merge.
    """
    m, p = Z.shape
    vvv = model == 0
    count = np.ones(m, dtype=np.int64)
    weight = sample_weight.copy()
    mean = Z.copy()
    scatter = np.zeros((m if vvv else 1, p, p))
    trace = np.zeros(m)
    term = np.empty(m)
    label = np.empty(m, dtype=np.int64)  # a group's name: its smallest row index
    for i in range(m):
        term[i] = _trace_term(weight[i], 0.0, alpha, beta) if vvv else 0.0
        label[i] = i
    merged = np.zeros((p, p))
    work = np.zeros((p, p))
    stored = vvv and mclust_factors
    first_row = np.zeros((m if stored else 1, p))  # row 1 of each group's factor
    fresh = np.zeros((p, p))  # the latest group's own scatter, while it is the latest
    fresh_slot = -1
    row_norm = 0.0  # bounds every group mean's norm, the scale of its rounding
    for i in range(m):
        s = 0.0
        for k in range(p):
            s += Z[i, k] * Z[i, k]
        row_norm = max(row_norm, math.sqrt(s))
    merges = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    costs = np.empty(max(m - 1, 0))
    if m < 2:
        return merges, costs

    d = np.empty(m * (m - 1) // 2)
    row_min = np.empty(m)
    row_arg = np.zeros(m, dtype=np.int64)
    stale = np.zeros(m, dtype=np.bool_)
    for j in range(1, m):
        _fill(d, j, j, vvv, count, weight, mean, scatter, trace, term, alpha, beta, merged, work)
        _rescan(d, j, row_min, row_arg)

    g = m
    for step in range(m - 1):
        # The cheapest merge. A stale row has a lower bound only; if it is picked,
        # rescan it and pick again.
        while True:
            best = np.inf
            bj = 1
            for j in range(1, g):
                if row_min[j] <= best:
                    best = row_min[j]
                    bj = j
            if not stale[bj]:
                break
            _rescan(d, bj, row_min, row_arg)
            stale[bj] = False
        bi = row_arg[bj]
        if vvv:
            merged_term = best + term[bi] + term[bj]
            magnitude = abs(merged_term) + abs(term[bi]) + abs(term[bj])
            magnitude += weight[bi] + weight[bj]
        else:
            dist = 0.0
            for k in range(p):
                t = mean[bi, k] - mean[bj, k]
                dist += t * t
            magnitude = weight[bi] * weight[bj] / (weight[bi] + weight[bj])
            magnitude *= row_norm * (2.0 * math.sqrt(dist) + _EPS * row_norm)
        bound = best + tie_rtol * magnitude
        if not bound >= best:  # NaN from overflowed data: the search below must end
            bound = best
        # The last pair within the bound in packed order: the largest j, then the
        # largest i (the search ends at the cheapest pair's row at the latest).
        bj = g - 1
        while True:
            if row_min[bj] <= bound:
                if not stale[bj]:
                    break
                _rescan(d, bj, row_min, row_arg)
                stale[bj] = False
            else:
                bj -= 1
        base = bj * (bj - 1) // 2
        bi = bj - 1
        while d[base + bi] > bound:
            bi -= 1
        merges[step, 0] = min(label[bi], label[bj])
        merges[step, 1] = max(label[bi], label[bj])
        costs[step] = d[base + bi]

        # Group bj joins group bi (kept in slot bi).
        w = weight[bi] + weight[bj]
        factor = weight[bi] * weight[bj] / w
        if vvv:
            dist = 0.0
            for k in range(p):
                t = mean[bi, k] - mean[bj, k]
                dist += t * t
            trace[bi] = trace[bi] + trace[bj] + factor * dist
            if stored and (fresh_slot == bi or fresh_slot == bj):
                # The latest group takes part with its own factor.
                for r in range(p):
                    for c in range(r + 1):
                        scatter[fresh_slot, r, c] = fresh[r, c]
            _merged_scatter(bi, bj, factor, mean, scatter, merged)
            for r in range(p):
                for c in range(r + 1):
                    scatter[bi, r, c] = merged[r, c]
            if stored:
                term[bi] = costs[step] + term[bi] + term[bj]
                if merged[0, 0] > 0.0:
                    root = math.sqrt(merged[0, 0])
                    for k in range(p):
                        first_row[bi, k] = merged[k, 0] / root
                elif count[bi] == 1 and count[bj] == 1:
                    root = math.sqrt(factor)
                    for k in range(p):
                        first_row[bi, k] = root * (mean[bi, k] - mean[bj, k])
                else:
                    # mclust's factor starts from the latest group's rows, else
                    # from those of the group in the higher slot.
                    src = fresh_slot
                    if fresh_slot != bi and fresh_slot != bj:
                        src = bj if count[bj] > 1 else bi
                    for k in range(p):
                        first_row[bi, k] = first_row[src, k]
                for r in range(p):
                    for c in range(r + 1):
                        fresh[r, c] = merged[r, c]
                fresh_slot = bi
            elif count[bi] + count[bj] > p and trace[bi] > 0.0:
                term[bi] = _full_term(merged, w, trace[bi], alpha, beta, work)
            else:
                term[bi] = _trace_term(w, trace[bi], alpha, beta)
        share = weight[bj] / w
        for k in range(p):
            mean[bi, k] += share * (mean[bj, k] - mean[bi, k])
        weight[bi] = w
        count[bi] += count[bj]
        label[bi] = min(label[bi], label[bj])

        # The last slot moves into slot bj, with its pairs.
        last = g - 1
        if bj != last:
            count[bj] = count[last]
            weight[bj] = weight[last]
            for k in range(p):
                mean[bj, k] = mean[last, k]
            label[bj] = label[last]
            if vvv:
                for r in range(p):
                    for c in range(r + 1):
                        scatter[bj, r, c] = scatter[last, r, c]
                trace[bj] = trace[last]
                term[bj] = term[last]
            if stored:
                for k in range(p):
                    first_row[bj, k] = first_row[last, k]
            base_last = last * (last - 1) // 2
            base_j = bj * (bj - 1) // 2
            for i in range(bj):
                d[base_j + i] = d[base_last + i]
            for i in range(bj + 1, last):
                d[i * (i - 1) // 2 + bj] = d[base_last + i]
        g -= 1

        # New costs of the merged group (with its own scatter), then the row minima
        # they touch.
        _fill(d, bi, g, vvv, count, weight, mean, scatter, trace, term, alpha, beta, merged, work)
        if stored:
            _stored_scatter(first_row[bi], count[bi], p, scatter[bi])
        if bj < g:
            _rescan(d, bj, row_min, row_arg)
            stale[bj] = False
        if bi > 0:
            _rescan(d, bi, row_min, row_arg)
            stale[bi] = False
        for j in range(bi + 1, g):
            if j == bj:
                continue
            _changed(d, bi, j, row_min, row_arg, stale)
            if bj < j:
                _changed(d, bj, j, row_min, row_arg, stale)
    return merges, costs
