// Types shared by the per-target kernels (kernels.cpp, compiled once per SIMD
// target) and the code that calls them. Plain structs of pointers and sizes:
// nothing here instantiates a template or defines a function, so the objects
// compiled for different targets share no code the linker could mix up.
#pragma once

#include <stdint.h>

namespace gaussmix {

// Rows per chunk: the (features + components) x rows work space stays in L2
// cache. Not a power of two: rows of the work arrays 4 KiB apart would share one
// set of the L1 cache and evict each other (the kernels stream several at once).
constexpr int64_t kChunkRows = 1008;

// Squared Mahalanobis distances are capped here (as kernels._numpy.QUAD_MAX).
constexpr double kQuadMax = 1e300;

// One pass of the E-step over all the rows: what every task reads.
struct EstepProblem {
    const void* X;           // n_rows x n_features, C order, float32 or float64
    bool single;             // X is float32
    int64_t n_rows, n_features, n_components;
    const double* weight;    // n_rows, or null (unit weights)
    const double* means;     // K x D
    const double* prec;      // full: K x D x D (upper triangular); diag: K x D
    const float* means_x;    // float32 copies of means and prec (single only)
    const float* prec_x;
    const double* log_norm;  // K
    const float* log_norm_x; // K: log_norm - log_offset in float32 (single only)
    double log_offset;       // largest finite log_norm (0 when none)
    bool full;               // full precision factors (else diagonal)
    double background;       // log-density of the constant component; -inf: none
    float background_x;      // background - log_offset in float32
    bool full_scatter;       // full scatter (else its diagonal)
    bool single_stats;       // float32 diagonal sums per chunk
    int64_t task_rows;
    int64_t chunk;           // rows per chunk: at most kChunkRows
};

// Work arrays of one thread, for chunks of up to ``ld`` rows (each array's rows
// are ``ld`` apart). Typed void where the dtype follows X's or the path's.
struct EstepWork {
    int64_t ld;
    void* Xt;                // D x ld, X's dtype
    double* log_prob;        // K x ld
    void* prob;              // K x ld, X's dtype
    double* row_max;         // ld
    float* log_prob_single;  // K x ld
    float* row_max_single;   // ld
    void* prob_total;        // ld, X's dtype
    double* total;           // ld
    double* row_scale;       // ld
    double* r;               // ld
    float* scale_x;          // ld
    float* r_x;              // ld
    double* diff;            // D x ld (full scatter)
    double* rdiff;           // D x ld (full scatter)
    void* quad;              // ld, float64 or float32
    void* wdiff;             // D x ld, float64 or float32 (full forms from 8 features)
    void* outputs;           // 4 x ld, float64 or float32
};

// Where one task's sums go.
struct EstepSlot {
    double* n_k;             // K
    double* shift_sums;      // K x D
    double* second;          // K x S x D, S = D (full scatter) or 1
    double* log_likelihood;  // 1
};

// k-means work arrays for chunks of ``ld`` rows.
struct KmeansWork {
    int64_t ld;
    double* Xt;              // D x ld
    double* dist;            // ld
    double* best;            // ld
    int64_t* label;          // ld
};

// Work arrays of the per-row log-densities (score_rows), for chunks of ld rows.
struct ScoreWork {
    int64_t ld;
    double* Xt;              // D x ld
    double* log_prob;        // K x ld
    double* prob;            // K x ld
    double* row_max;         // ld
    double* total;           // ld
    double* quad;            // ld
    double* wdiff;           // D x ld (full forms from 8 features)
    double* outputs;         // 4 x ld
};

// The kernels of one SIMD target. X arguments are float32 (``_f``) or float64
// (``_d``); everything else as documented with each in kernels.cpp.
struct Kernels {
    const char* name;
    void (*estep_task)(const EstepProblem&, EstepWork&, int64_t task, const EstepSlot&);
    void (*transpose_f_f)(const float*, int64_t, int64_t, int64_t, float*, int64_t);
    void (*transpose_d_d)(const double*, int64_t, int64_t, int64_t, double*, int64_t);
    void (*transpose_f_d)(const float*, int64_t, int64_t, int64_t, double*, int64_t);
    void (*transpose_d_f)(const double*, int64_t, int64_t, int64_t, float*, int64_t);
    void (*exp_shifted)(const double*, const double*, int64_t, int64_t, int64_t, double*, double*);
    void (*exp_shifted_single_d)(const double*, const double*, int64_t, int64_t, int64_t, float*,
                                 float*);
    void (*exp_shifted_single_f)(const float*, const float*, int64_t, int64_t, int64_t, float*,
                                 float*);
    double (*sum_of_logs)(const double*, int64_t);
    void (*lloyd_block_f)(const float*, int64_t, int64_t, const double*, const double*, int64_t,
                          int32_t*, double*, double*, KmeansWork&);
    void (*lloyd_block_d)(const double*, int64_t, int64_t, const double*, const double*, int64_t,
                          int32_t*, double*, double*, KmeansWork&);
    void (*lloyd_rows_f)(const float*, int64_t, int64_t, const double*, const float*, int64_t,
                         int32_t*, double*, double*);
    void (*lloyd_rows_d)(const double*, int64_t, int64_t, const double*, const double*, int64_t,
                         int32_t*, double*, double*);
    void (*candidates_block_f)(const float*, int64_t, int64_t, const double*, const double*,
                               const double*, int64_t, double*, double*, KmeansWork&);
    void (*candidates_block_d)(const double*, int64_t, int64_t, const double*, const double*,
                               const double*, int64_t, double*, double*, KmeansWork&);
    void (*candidates_rows_f)(const float*, int64_t, int64_t, const double*, const double*,
                              const float*, int64_t, double*, double*);
    void (*candidates_rows_d)(const double*, int64_t, int64_t, const double*, const double*,
                              const double*, int64_t, double*, double*);
    void (*column_variances_f)(const float*, int64_t, int64_t, double*, double*);
    void (*column_variances_d)(const double*, int64_t, int64_t, double*, double*);
    // X (n x D), means, prec, log_norm as for the E-step; log p(x) (n) and log
    // responsibilities (n x K), float64, each row's independent of the others.
    void (*score_rows_f)(const float*, int64_t, int64_t, int64_t, const double*, const double*,
                         bool, const double*, double*, double*, ScoreWork&);
    void (*score_rows_d)(const double*, int64_t, int64_t, int64_t, const double*, const double*,
                         bool, const double*, double*, double*, ScoreWork&);
};

namespace generic { extern const Kernels kernels; }
#if defined(GAUSSMIX_X86_TARGETS)
namespace avx2 { extern const Kernels kernels; }
namespace avx512 { extern const Kernels kernels; }
#endif

}  // namespace gaussmix
