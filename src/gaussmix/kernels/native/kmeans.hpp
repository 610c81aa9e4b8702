// k-means kernels: Lloyd passes, k-means++ candidate distances, statistics of
// hard labels, column variances and running sums. X is n x D in C order, float32
// or float64 (``T``); weight is n values or null (unit weights).
#pragma once

#include <stdint.h>

#include "common.hpp"

namespace gaussmix {

// Whether distances are cheaper row by row (each a reduction across features,
// rows read in place) than across transposed chunks: with at least two features
// per centre (measured 1.1-2.8x at 8-64 features and 3 centres; the transposed
// loops stay ahead up to 16 features with 16 centres).
inline bool distances_by_rows(int64_t n_features, int64_t n_centres) {
    return n_features >= 2 * n_centres;
}

// labels (n), sums (K x D, zeroed by the caller), weights (K, zeroed).
template <class T>
void lloyd_step(const Kernels& kernels, const T* X, int64_t n, int64_t D, const double* weight,
                const double* centers, int64_t K, int32_t* labels, double* sums,
                double* weights);

// out (n_cand x n), pots (n_cand).
template <class T>
void candidate_distances(const Kernels& kernels, const T* X, int64_t n, int64_t D,
                         const double* weight, const double* closest, const double* candidates,
                         int64_t n_cand, double* out, double* pots);

// n_k (K), mean_k (K x D), second (K x S x D, S = D when ``full``, else 1), all zeroed
// by the caller; the full sums fill the upper triangle.
template <class T>
void label_stats(const T* X, int64_t n, int64_t D, const double* weight, const int64_t* labels,
                 int64_t K, bool full, double* n_k, double* mean_k, double* second);

template <class T>
void column_variances(const Kernels& kernels, const T* X, int64_t n, int64_t D, double* out);

// log p(x) (n) and log responsibilities (n x K) of each row (ScoreWork's kernels).
template <class T>
void score_rows(const Kernels& kernels, const T* X, int64_t n, int64_t D, int64_t K,
                const double* means, const double* prec, bool full, const double* log_norm,
                double* log_prob, double* log_resp);

// Left to right, one addition per value: bit-identical to np.cumsum.
void cumulative_sum(const double* values, int64_t n, double* out);

}  // namespace gaussmix
