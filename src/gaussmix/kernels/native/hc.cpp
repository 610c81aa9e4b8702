// Agglomeration for model-based hierarchical clustering (mclust's hcVVV, hcEII);
// gaussmix/kernels/_hc.py documents the criteria and the bookkeeping, which follows
// mclust's Fortran so that ties are broken the same way.
//
// Compiled once, for the baseline target, with IEEE arithmetic and no contraction:
// every sum runs in a fixed order, so the costs round the same on every CPU, and
// the arithmetic is symmetric, to the last bit, under a change of sign of a column
// of Z (the sign of an SVD's singular vectors is arbitrary).
#include "hc.hpp"

#include "memory.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace gaussmix {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// A group's VVV term while det(W) = 0: weight * log(beta (trace + alpha) / weight).
double trace_term(double weight, double trace, double alpha, double beta) {
    return weight * std::log(beta * (trace + alpha) / weight);
}

// weight * log(det(W / weight) + beta (trace + alpha) / weight), W from its lower
// triangle (p x p). The determinant is the product of the squared Cholesky pivots
// (no logarithms, which would cost more than the factorisation at small p); it is
// 0 when W is not positive definite, and taken through logarithms if the product
// leaves the floating-point range.
double full_term(const double* scatter, int64_t p, double weight, double trace, double alpha,
                 double beta, double* work) {
    const double scale = 1.0 / weight;
    const double b = beta * (trace + alpha) / weight;
    double det = 1.0;
    for (int64_t j = 0; j < p; ++j) {
        double s = scatter[j * p + j] * scale;
        for (int64_t k = 0; k < j; ++k) s -= work[j * p + k] * work[j * p + k];
        if (!(s > 0.0)) return weight * std::log(b);
        det *= s;
        const double pivot = std::sqrt(s);
        work[j * p + j] = pivot;
        for (int64_t i = j + 1; i < p; ++i) {
            double t = scatter[i * p + j] * scale;
            for (int64_t k = 0; k < j; ++k) t -= work[i * p + k] * work[j * p + k];
            work[i * p + j] = t / pivot;
        }
    }
    if (0.0 < det && det < INFINITY) return weight * std::log(det + b);
    double log_det = 0.0;
    for (int64_t j = 0; j < p; ++j) log_det += 2.0 * std::log(work[j * p + j]);
    const double hi = std::max(log_det, std::log(b));
    const double lo = std::min(log_det, std::log(b));
    return weight * (hi + std::log1p(std::exp(lo - hi)));
}

class Agglomeration {
  public:
    Agglomeration(const double* Z, int64_t m, int64_t p, const double* sample_weight, bool vvv,
                  double alpha, double beta)
        : m_(m), p_(p), vvv_(vvv), alpha_(alpha), beta_(beta), count_(m, 1),
          weight_(sample_weight, sample_weight + m), mean_(Z, Z + m * p),
          scatter_(vvv ? m * p * p : 0, 0.0), trace_(m, 0.0), term_(m), label_(m),
          merged_(p * p, 0.0), work_(p * p, 0.0) {
        for (int64_t i = 0; i < m; ++i) {
            term_[i] = vvv ? trace_term(weight_[i], 0.0, alpha, beta) : 0.0;
            label_[i] = i;
        }
    }

    void run(double tie_rtol, int64_t* merges, double* costs);

  private:
    static int64_t pair(int64_t i, int64_t j) { return j * (j - 1) / 2 + i; }  // i < j

    double squared_distance(int64_t a, int64_t b) const {
        double dist = 0.0;
        for (int64_t k = 0; k < p_; ++k) {
            const double t = mean_[a * p_ + k] - mean_[b * p_ + k];
            dist += t * t;
        }
        return dist;
    }

    // Lower triangle of W_a + W_b + factor (mean_a - mean_b)(mean_a - mean_b)^T.
    void merged_scatter(int64_t a, int64_t b, double factor) {
        const double* ma = &mean_[a * p_];
        const double* mb = &mean_[b * p_];
        const double* sa = &scatter_[a * p_ * p_];
        const double* sb = &scatter_[b * p_ * p_];
        for (int64_t r = 0; r < p_; ++r) {
            const double dr = factor * (ma[r] - mb[r]);
            for (int64_t c = 0; c <= r; ++c)
                merged_[r * p_ + c] = sa[r * p_ + c] + sb[r * p_ + c] + dr * (ma[c] - mb[c]);
        }
    }

    // Costs of merging group a with each group j < stop, j != a; symmetric in the
    // two groups to the last bit.
    void fill(int64_t a, int64_t stop) {
        for (int64_t j = 0; j < stop; ++j) {
            if (j == a) continue;
            const double w = weight_[a] + weight_[j];
            const double factor = weight_[a] * weight_[j] / w;
            const double dist = squared_distance(a, j);
            double cost;
            if (vvv_) {
                const double tr = trace_[a] + trace_[j] + factor * dist;
                double merged_term;
                if (count_[a] + count_[j] > p_ && tr > 0.0) {
                    merged_scatter(a, j, factor);
                    merged_term = full_term(merged_.data(), p_, w, tr, alpha_, beta_,
                                            work_.data());
                } else {
                    merged_term = trace_term(w, tr, alpha_, beta_);  // below rank det(W) is 0
                }
                cost = merged_term - (term_[a] + term_[j]);
            } else {
                cost = factor * dist;
            }
            d_[j < a ? pair(j, a) : pair(a, j)] = cost;
        }
    }

    // Minimum of the pairs (i, j), i < j, and the last i attaining it.
    void rescan(int64_t j) {
        const double* row = &d_[pair(0, j)];
        double best = INFINITY;
        int64_t arg = 0;
        for (int64_t i = 0; i < j; ++i) {
            if (row[i] <= best) {
                best = row[i];
                arg = i;
            }
        }
        row_min_[j] = best;
        row_arg_[j] = arg;
        stale_[j] = false;
    }

    // Row j's minimum after the cost of pair (i, j) changed. A stale row's minimum
    // may have moved up: row_min is then a lower bound, refreshed if the row is needed.
    void changed(int64_t i, int64_t j) {
        const double v = d_[pair(i, j)];
        if (stale_[j]) {
            if (v < row_min_[j]) {
                row_min_[j] = v;  // below every other pair: the (exact) minimum
                row_arg_[j] = i;
                stale_[j] = false;
            }
        } else if (row_arg_[j] == i) {
            if (v <= row_min_[j])
                row_min_[j] = v;  // still the (last) minimum: every later pair costs more
            else
                stale_[j] = true;
        } else if (v < row_min_[j] || (v == row_min_[j] && i > row_arg_[j])) {
            row_min_[j] = v;
            row_arg_[j] = i;
        }
    }

    int64_t m_, p_;
    bool vvv_;
    double alpha_, beta_;
    std::vector<int64_t> count_;
    std::vector<double> weight_, mean_, scatter_, trace_, term_;
    std::vector<int64_t> label_;  // a group's name: its smallest row index
    std::vector<double> merged_, work_;
    Buffer<double> d_;  // the costs of all pairs, packed
    std::vector<double> row_min_;
    std::vector<int64_t> row_arg_;
    std::vector<char> stale_;
};

void Agglomeration::run(double tie_rtol, int64_t* merges, double* costs) {
    const int64_t m = m_, p = p_;
    if (m < 2) return;
    double row_norm = 0.0;  // bounds every group mean's norm, the scale of its rounding
    for (int64_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (int64_t k = 0; k < p; ++k) s += mean_[i * p + k] * mean_[i * p + k];
        row_norm = std::max(row_norm, std::sqrt(s));
    }
    d_.reset(m * (m - 1) / 2);
    row_min_.assign(m, 0.0);
    row_arg_.assign(m, 0);
    stale_.assign(m, 0);
    for (int64_t j = 1; j < m; ++j) {
        fill(j, j);
        rescan(j);
    }

    int64_t g = m;
    for (int64_t step = 0; step < m - 1; ++step) {
        // The cheapest merge. A stale row has a lower bound only; if it is picked,
        // rescan it and pick again.
        double best;
        int64_t bj;
        while (true) {
            best = INFINITY;
            bj = 1;
            for (int64_t j = 1; j < g; ++j) {
                if (row_min_[j] <= best) {
                    best = row_min_[j];
                    bj = j;
                }
            }
            if (!stale_[bj]) break;
            rescan(bj);
        }
        int64_t bi = row_arg_[bj];
        double magnitude;
        if (vvv_) {
            const double merged_term = best + term_[bi] + term_[bj];
            magnitude = std::fabs(merged_term) + std::fabs(term_[bi]) + std::fabs(term_[bj]);
            magnitude += weight_[bi] + weight_[bj];
        } else {
            const double dist = squared_distance(bi, bj);
            magnitude = weight_[bi] * weight_[bj] / (weight_[bi] + weight_[bj]);
            magnitude *= row_norm * (2.0 * std::sqrt(dist) + kEps * row_norm);
        }
        double bound = best + tie_rtol * magnitude;
        if (!(bound >= best)) bound = best;  // NaN from overflowed data: the search must end
        // The last pair within the bound in packed order: the largest j, then the
        // largest i (the search ends at the cheapest pair's row at the latest).
        bj = g - 1;
        while (true) {
            if (row_min_[bj] <= bound) {
                if (!stale_[bj]) break;
                rescan(bj);
            } else {
                --bj;
            }
        }
        const int64_t base = pair(0, bj);
        bi = bj - 1;
        while (d_[base + bi] > bound) --bi;
        merges[2 * step] = std::min(label_[bi], label_[bj]);
        merges[2 * step + 1] = std::max(label_[bi], label_[bj]);
        costs[step] = d_[base + bi];

        // Group bj joins group bi (kept in slot bi).
        const double w = weight_[bi] + weight_[bj];
        const double factor = weight_[bi] * weight_[bj] / w;
        if (vvv_) {
            const double dist = squared_distance(bi, bj);
            trace_[bi] = trace_[bi] + trace_[bj] + factor * dist;
            merged_scatter(bi, bj, factor);
            double* s = &scatter_[bi * p * p];
            for (int64_t r = 0; r < p; ++r)
                for (int64_t c = 0; c <= r; ++c) s[r * p + c] = merged_[r * p + c];
            if (count_[bi] + count_[bj] > p && trace_[bi] > 0.0)
                term_[bi] = full_term(merged_.data(), p, w, trace_[bi], alpha_, beta_,
                                      work_.data());
            else
                term_[bi] = trace_term(w, trace_[bi], alpha_, beta_);
        }
        const double share = weight_[bj] / w;
        for (int64_t k = 0; k < p; ++k)
            mean_[bi * p + k] += share * (mean_[bj * p + k] - mean_[bi * p + k]);
        weight_[bi] = w;
        count_[bi] += count_[bj];
        label_[bi] = std::min(label_[bi], label_[bj]);

        // The last slot moves into slot bj, with its pairs.
        const int64_t last = g - 1;
        if (bj != last) {
            count_[bj] = count_[last];
            weight_[bj] = weight_[last];
            for (int64_t k = 0; k < p; ++k) mean_[bj * p + k] = mean_[last * p + k];
            label_[bj] = label_[last];
            if (vvv_) {
                double* to = &scatter_[bj * p * p];
                const double* from = &scatter_[last * p * p];
                for (int64_t r = 0; r < p; ++r)
                    for (int64_t c = 0; c <= r; ++c) to[r * p + c] = from[r * p + c];
                trace_[bj] = trace_[last];
                term_[bj] = term_[last];
            }
            const int64_t base_last = pair(0, last);
            const int64_t base_j = pair(0, bj);
            for (int64_t i = 0; i < bj; ++i) d_[base_j + i] = d_[base_last + i];
            for (int64_t i = bj + 1; i < last; ++i) d_[pair(bj, i)] = d_[base_last + i];
        }
        --g;

        // New costs of the merged group, then the row minima they touch.
        fill(bi, g);
        if (bj < g) rescan(bj);
        if (bi > 0) rescan(bi);
        for (int64_t j = bi + 1; j < g; ++j) {
            if (j == bj) continue;
            changed(bi, j);
            if (bj < j) changed(bj, j);
        }
    }
}

}  // namespace

void agglomerate(const double* Z, int64_t n_rows, int64_t n_features,
                 const double* sample_weight, bool vvv, double alpha, double beta,
                 double tie_rtol, int64_t* merges, double* costs) {
    Agglomeration(Z, n_rows, n_features, sample_weight, vvv, alpha, beta)
        .run(tie_rtol, merges, costs);
}

}  // namespace gaussmix
