#include "kmeans.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "workspace.hpp"

namespace gaussmix {

namespace {

struct KmeansSpace {
    Workspace space;
    KmeansWork work;

    KmeansSpace(int64_t n, int64_t D) {
        const int64_t ld = std::min(kChunkRows, std::max<int64_t>(n, 1));
        space.reserve<double>(D * ld);
        space.reserve<double>(ld);
        space.reserve<double>(ld);
        space.reserve<int64_t>(ld);
        space.allocate();
        work.ld = ld;
        work.Xt = space.carve<double>(D * ld);
        work.dist = space.carve<double>(ld);
        work.best = space.carve<double>(ld);
        work.label = space.carve<int64_t>(ld);
    }
};

}  // namespace

template <class T>
void lloyd_step(const Kernels& kernels, const T* X, int64_t n, int64_t D, const double* weight,
                const double* centers, int64_t K, int32_t* labels, double* sums,
                double* weights) {
    constexpr bool single = std::is_same<T, float>::value;
    if (distances_by_rows(D, K)) {
        // Centres in X's dtype: float32 rows are compared in float32 (half the
        // bytes, twice the SIMD lanes), as scikit-learn compares them.
        if constexpr (single) {
            std::vector<float> centers_x(centers, centers + K * D);
            kernels.lloyd_rows_f(X, n, D, weight, centers_x.data(), K, labels, sums, weights);
        } else {
            kernels.lloyd_rows_d(X, n, D, weight, centers, K, labels, sums, weights);
        }
        return;
    }
    KmeansSpace space(n, D);
    if constexpr (single)
        kernels.lloyd_block_f(X, n, D, weight, centers, K, labels, sums, weights, space.work);
    else
        kernels.lloyd_block_d(X, n, D, weight, centers, K, labels, sums, weights, space.work);
}

template <class T>
void candidate_distances(const Kernels& kernels, const T* X, int64_t n, int64_t D,
                         const double* weight, const double* closest, const double* candidates,
                         int64_t n_cand, double* out, double* pots) {
    constexpr bool single = std::is_same<T, float>::value;
    if (distances_by_rows(D, n_cand)) {
        if constexpr (single) {
            std::vector<float> candidates_x(candidates, candidates + n_cand * D);
            kernels.candidates_rows_f(X, n, D, weight, closest, candidates_x.data(), n_cand, out,
                                      pots);
        } else {
            kernels.candidates_rows_d(X, n, D, weight, closest, candidates, n_cand, out, pots);
        }
        return;
    }
    KmeansSpace space(n, D);
    if constexpr (single)
        kernels.candidates_block_f(X, n, D, weight, closest, candidates, n_cand, out, pots,
                                   space.work);
    else
        kernels.candidates_block_d(X, n, D, weight, closest, candidates, n_cand, out, pots,
                                   space.work);
}

template <class T>
void label_stats(const T* X, int64_t n, int64_t D, const double* weight, const int64_t* labels,
                 int64_t K, bool full, double* n_k, double* mean_k, double* second) {
    for (int64_t i = 0; i < n; ++i) {
        const int64_t j = labels[i];
        const double w = weight ? weight[i] : 1.0;
        n_k[j] += w;
        const T* x = X + i * D;
        double* mean = mean_k + j * D;
        for (int64_t a = 0; a < D; ++a) mean[a] += w * double(x[a]);
    }
    for (int64_t j = 0; j < K; ++j)
        if (n_k[j] > 0)
            for (int64_t a = 0; a < D; ++a) mean_k[j * D + a] /= n_k[j];
    // Second pass about the means: no digits lost to raw second moments.
    std::vector<double> diff(D);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t j = labels[i];
        const double w = weight ? weight[i] : 1.0;
        const T* x = X + i * D;
        const double* mean = mean_k + j * D;
        for (int64_t a = 0; a < D; ++a) diff[a] = double(x[a]) - mean[a];
        if (full) {
            double* s = second + j * D * D;
            for (int64_t a = 0; a < D; ++a) {
                const double t = w * diff[a];
                for (int64_t b = a; b < D; ++b) s[a * D + b] += t * diff[b];
            }
        } else {
            double* s = second + j * D;
            for (int64_t a = 0; a < D; ++a) s[a] += w * diff[a] * diff[a];
        }
    }
}

template <class T>
void column_variances(const Kernels& kernels, const T* X, int64_t n, int64_t D, double* out) {
    std::vector<double> mean(D);
    if constexpr (std::is_same<T, float>::value)
        kernels.column_variances_f(X, n, D, mean.data(), out);
    else
        kernels.column_variances_d(X, n, D, mean.data(), out);
}

template <class T>
void score_rows(const Kernels& kernels, const T* X, int64_t n, int64_t D, int64_t K,
                const double* means, const double* prec, bool full, const double* log_norm,
                double* log_prob, double* log_resp) {
    const int64_t ld = std::min(kChunkRows, std::max<int64_t>(n, 1));
    const bool wide = full && D >= 8;
    Workspace space;
    space.reserve<double>(D * ld);
    space.reserve<double>(K * ld);
    space.reserve<double>(K * ld);
    space.reserve<double>(ld);
    space.reserve<double>(ld);
    space.reserve<double>(ld);
    space.reserve<double>(wide ? D * ld : 0);
    space.reserve<double>(wide ? 4 * ld : 0);
    space.allocate();
    ScoreWork w;
    w.ld = ld;
    w.Xt = space.carve<double>(D * ld);
    w.log_prob = space.carve<double>(K * ld);
    w.prob = space.carve<double>(K * ld);
    w.row_max = space.carve<double>(ld);
    w.total = space.carve<double>(ld);
    w.quad = space.carve<double>(ld);
    w.wdiff = space.carve<double>(wide ? D * ld : 0);
    w.outputs = space.carve<double>(wide ? 4 * ld : 0);
    if constexpr (std::is_same<T, float>::value)
        kernels.score_rows_f(X, n, D, K, means, prec, full, log_norm, log_prob, log_resp, w);
    else
        kernels.score_rows_d(X, n, D, K, means, prec, full, log_norm, log_prob, log_resp, w);
}

void cumulative_sum(const double* values, int64_t n, double* out) {
    double running = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        running += values[i];
        out[i] = running;
    }
}

#define GM_INSTANTIATE(T)                                                                     \
    template void lloyd_step<T>(const Kernels&, const T*, int64_t, int64_t, const double*,    \
                                const double*, int64_t, int32_t*, double*, double*);          \
    template void candidate_distances<T>(const Kernels&, const T*, int64_t, int64_t,          \
                                         const double*, const double*, const double*,         \
                                         int64_t, double*, double*);                          \
    template void label_stats<T>(const T*, int64_t, int64_t, const double*, const int64_t*,   \
                                 int64_t, bool, double*, double*, double*);                   \
    template void column_variances<T>(const Kernels&, const T*, int64_t, int64_t, double*);  \
    template void score_rows<T>(const Kernels&, const T*, int64_t, int64_t, int64_t,          \
                                const double*, const double*, bool, const double*, double*,   \
                                double*);

GM_INSTANTIATE(float)
GM_INSTANTIATE(double)

}  // namespace gaussmix
