// The hot loops, compiled once per SIMD target (CMakeLists.txt: -DGM_TARGET=generic,
// avx2 or avx512, each with its instruction-set flags); dispatch.cpp picks one table
// at run time from the CPU. One source for every target: only the compiler's code
// generation differs, plus an 8 x 8 register transpose where AVX is there.
//
// Everything but the exported table has internal linkage (an anonymous namespace
// inside the target's namespace) and no standard-library template is used, so no
// function compiled for one target can stand in for another's at link time.
//
// Floating point: IEEE semantics (no -ffast-math; -ffp-contract=off). Where it
// pays, contraction is explicit (``fmadd``: a fused multiply-add on targets that
// have one) and reassociation is explicit (``#pragma omp simd reduction``, which
// lets a sum over rows run in vector lanes). Either changes results by rounding
// alone; the order is fixed at compile time, so a binary gives the same numbers
// on every run and thread count.
#include <stdint.h>

#include "common.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#ifndef GM_TARGET
#error "compile with -DGM_TARGET=<namespace of the target>"
#endif

#define GM_RESTRICT __restrict__
#define GM_SIMD_REDUCE(...) _Pragma(GM_STRINGIFY(omp simd reduction(+ : __VA_ARGS__)))
#define GM_STRINGIFY(...) #__VA_ARGS__

namespace gaussmix {
namespace GM_TARGET {
namespace {

using i64 = int64_t;

constexpr double kInf = __builtin_inf();
constexpr float kInfF = __builtin_inff();

#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define GM_HAVE_FMA 1
inline double fmadd(double a, double b, double c) { return __builtin_fma(a, b, c); }
inline float fmadd(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#else
inline double fmadd(double a, double b, double c) { return a * b + c; }
inline float fmadd(float a, float b, float c) { return a * b + c; }
#endif

// The cap of quadratic forms in TC: kQuadMax in float64; float32 has no such
// number, and its forms are checked against a finite limit instead (no cap).
template <class TC>
inline TC quad_cap() { return TC(kQuadMax); }
template <>
inline float quad_cap<float>() { return kInfF; }

// Python's max(a, b) and min(a, b): the first argument unless the second is
// strictly larger (smaller).
template <class T>
inline T max2(T a, T b) { return b > a ? b : a; }
template <class T>
inline T min2(T a, T b) { return b < a ? b : a; }
inline i64 min_i(i64 a, i64 b) { return b < a ? b : a; }
inline i64 max_i(i64 a, i64 b) { return b > a ? b : a; }

// ---------------------------------------------------------------------------
// Transposes: Xt[a * ld + i] = X[(start + i) * D + a] for i < m, in Xt's dtype.

#if defined(__AVX__)
inline void transpose8_ps(__m256 r[8]) {
    // Stage 1 interleaves pairs of rows within 128-bit lanes, stage 2 pairs of
    // those, stage 3 swaps 128-bit halves: 24 shuffles for 64 values.
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

inline void transpose4_pd(__m256d r[4]) {
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// One 8 x 8 block: rows ``src`` (D apart) to columns ``dst`` (ld apart).
inline void block8(const float* src, i64 D, float* dst, i64 ld) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * D);
    transpose8_ps(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * ld, r[j]);
}

inline void block8(const float* src, i64 D, double* dst, i64 ld) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * D);
    transpose8_ps(r);
    for (int j = 0; j < 8; ++j) {
        _mm256_storeu_pd(dst + j * ld, _mm256_cvtps_pd(_mm256_castps256_ps128(r[j])));
        _mm256_storeu_pd(dst + j * ld + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(r[j], 1)));
    }
}

inline void block8(const double* src, i64 D, double* dst, i64 ld) {
    for (int bi = 0; bi < 8; bi += 4) {
        for (int bj = 0; bj < 8; bj += 4) {
            __m256d r[4];
            for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + (bi + i) * D + bj);
            transpose4_pd(r);
            for (int j = 0; j < 4; ++j) _mm256_storeu_pd(dst + (bj + j) * ld + bi, r[j]);
        }
    }
}

inline void block8(const double* src, i64 D, float* dst, i64 ld) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) {
        __m128 lo = _mm256_cvtpd_ps(_mm256_loadu_pd(src + i * D));
        __m128 hi = _mm256_cvtpd_ps(_mm256_loadu_pd(src + i * D + 4));
        r[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    }
    transpose8_ps(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * ld, r[j]);
}
#else
template <class TS, class TD>
inline void block8(const TS* src, i64 D, TD* dst, i64 ld) {
    for (int j = 0; j < 8; ++j)
        for (int i = 0; i < 8; ++i) dst[j * ld + i] = TD(src[i * D + j]);
}
#endif

template <class TS, class TD>
void transpose_rows(const TS* GM_RESTRICT X, i64 D, i64 start, i64 m, TD* GM_RESTRICT Xt,
                    i64 ld) {
    const TS* rows = X + start * D;
    if (D >= 8) {
        // 8 x 8 blocks in vector registers; with ld not a power of two (kChunkRows)
        // the eight output rows of a block do not fall in one set of the L1 cache.
        i64 i0 = 0;
        for (; i0 + 8 <= m; i0 += 8) {
            i64 a = 0;
            for (; a + 8 <= D; a += 8) block8(rows + i0 * D + a, D, Xt + a * ld + i0, ld);
            for (; a < D; ++a)
                for (int i = 0; i < 8; ++i) Xt[a * ld + i0 + i] = TD(rows[(i0 + i) * D + a]);
        }
        for (i64 a = 0; a < D; ++a)
            for (i64 i = i0; i < m; ++i) Xt[a * ld + i] = TD(rows[i * D + a]);
        return;
    }
    if (D >= 3) {
        // Eight rows at a time: eight contiguous values written per feature.
        i64 i0 = 0;
        for (; i0 + 8 <= m; i0 += 8)
            for (i64 a = 0; a < D; ++a)
                for (int i = 0; i < 8; ++i) Xt[a * ld + i0 + i] = TD(rows[(i0 + i) * D + a]);
        for (i64 a = 0; a < D; ++a)
            for (i64 i = i0; i < m; ++i) Xt[a * ld + i] = TD(rows[i * D + a]);
        return;
    }
    for (i64 a = 0; a < D; ++a)
        for (i64 i = 0; i < m; ++i) Xt[a * ld + i] = TD(rows[i * D + a]);
}

// ---------------------------------------------------------------------------
// Log-densities. TX: the rows' dtype; TC: the dtype of the arithmetic (that of the
// means and factors: float32 only for float32 rows).

// Diagonal quadratic forms of component k: out[i] = base - half min(q_i, quad_max),
// q_i = sum_j ((x_ji - mean_j) prec_j)^2; raises row_max; returns how many q_i were
// not below ``limit``. All features but the last four are summed into ``quad``,
// four per sweep; the last four (all of them, with zero coefficients for the
// missing ones, below four features) in the sweep that takes the log-density, the
// row maximum and the overflow count.
template <class TX, class TC>
i64 diagonal_log_density(const TX* GM_RESTRICT Xt, i64 ld, i64 D, i64 m,
                         const TC* GM_RESTRICT mean, const TC* GM_RESTRICT prec, TC base,
                         TC limit, TC* GM_RESTRICT quad, TC* GM_RESTRICT out,
                         TC* GM_RESTRICT row_max) {
    const TC half = TC(0.5);
    const TC quad_max = quad_cap<TC>();
    const bool clip = !(limit < TC(kInf));
    const i64 last = max_i(D - 4, 0);
    if (last > 0) {
        for (i64 i = 0; i < m; ++i) quad[i] = TC(0);
        i64 j = 0;
        for (; j + 4 <= last; j += 4) {
            const TX *x0 = Xt + j * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
            const TC c0 = mean[j], c1 = mean[j + 1], c2 = mean[j + 2], c3 = mean[j + 3];
            const TC p0 = prec[j], p1 = prec[j + 1], p2 = prec[j + 2], p3 = prec[j + 3];
            for (i64 i = 0; i < m; ++i) {
                TC t0 = (TC(x0[i]) - c0) * p0, t1 = (TC(x1[i]) - c1) * p1;
                TC t2 = (TC(x2[i]) - c2) * p2, t3 = (TC(x3[i]) - c3) * p3;
                quad[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3);
            }
        }
        for (; j < last; ++j) {
            const TX* x = Xt + j * ld;
            const TC c = mean[j], p = prec[j];
            for (i64 i = 0; i < m; ++i) {
                TC t = (TC(x[i]) - c) * p;
                quad[i] += t * t;
            }
        }
    }
    // A missing feature repeats the last one with a zero coefficient (its term is
    // exactly 0 for finite rows).
    const i64 f0 = last, f1 = min_i(last + 1, D - 1), f2 = min_i(last + 2, D - 1),
              f3 = min_i(last + 3, D - 1);
    const TX *x0 = Xt + f0 * ld, *x1 = Xt + f1 * ld, *x2 = Xt + f2 * ld, *x3 = Xt + f3 * ld;
    const TC c0 = mean[f0], c1 = mean[f1], c2 = mean[f2], c3 = mean[f3];
    const TC p0 = prec[f0];
    const TC p1 = last + 1 < D ? prec[f1] : TC(0);
    const TC p2 = last + 2 < D ? prec[f2] : TC(0);
    const TC p3 = last + 3 < D ? prec[f3] : TC(0);
    i64 n_over = 0;
    if (last > 0) {
        for (i64 i = 0; i < m; ++i) {
            TC t0 = (TC(x0[i]) - c0) * p0, t1 = (TC(x1[i]) - c1) * p1;
            TC t2 = (TC(x2[i]) - c2) * p2, t3 = (TC(x3[i]) - c3) * p3;
            TC q = ((t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)) + quad[i];
            n_over += q < limit ? 0 : 1;
            // Below a finite limit (float32 forms) a larger q is computed again: no clip.
            TC value = base - half * (clip ? min2(q, quad_max) : q);
            out[i] = value;
            row_max[i] = max2(row_max[i], value);
        }
    } else {
        for (i64 i = 0; i < m; ++i) {
            TC t0 = (TC(x0[i]) - c0) * p0, t1 = (TC(x1[i]) - c1) * p1;
            TC t2 = (TC(x2[i]) - c2) * p2, t3 = (TC(x3[i]) - c3) * p3;
            TC q = (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3);
            n_over += q < limit ? 0 : 1;
            TC value = base - half * (clip ? min2(q, quad_max) : q);
            out[i] = value;
            row_max[i] = max2(row_max[i], value);
        }
    }
    return n_over;
}

// quad[i] += |(x_i - mean) P|^2 for upper-triangular P (D x D, row-major) and D < 8:
// every output of a row in registers (D known at compile time), no stores between.
template <int D, class TX, class TC>
void small_full_quad(const TX* GM_RESTRICT Xt, i64 ld, i64 m, const TC* GM_RESTRICT mean,
                     const TC* GM_RESTRICT P, TC* GM_RESTRICT quad) {
    TC coef[D][D];
    TC centre[D];
    for (int l = 0; l < D; ++l) {
        centre[l] = mean[l];
        for (int j = 0; j < D; ++j) coef[l][j] = l <= j ? P[l * D + j] : TC(0);
    }
    for (i64 i = 0; i < m; ++i) {
        TC d[D];
#pragma GCC unroll 8
        for (int l = 0; l < D; ++l) d[l] = TC(Xt[l * ld + i]) - centre[l];
        TC q = TC(0);
#pragma GCC unroll 8
        for (int j = 0; j < D; ++j) {
            TC y = d[0] * coef[0][j];
#pragma GCC unroll 8
            for (int l = 1; l <= j; ++l) y = fmadd(d[l], coef[l][j], y);
            q = fmadd(y, y, q);
        }
        quad[i] = q;
    }
}

// quad[i] += |(x_i - mean) P|^2 for upper-triangular P, from 8 features.
// The differences are formed once; outputs y_j = sum_{l <= j} d_l P[l, j] are taken
// four at a time, each sweep over the rows adding four differences to all four
// (four loads of differences and four of y feed sixteen products). Coefficients
// below the diagonal count as zero (they are never read).
template <class TX, class TC>
void whitened_squares(const TX* GM_RESTRICT Xt, i64 ld, i64 D, i64 m,
                      const TC* GM_RESTRICT mean, const TC* GM_RESTRICT P, TC* GM_RESTRICT diff,
                      TC* GM_RESTRICT y, TC* GM_RESTRICT quad) {
    for (i64 l = 0; l < D; ++l) {
        const TC centre = mean[l];
        const TX* x = Xt + l * ld;
        TC* dl = diff + l * ld;
        for (i64 i = 0; i < m; ++i) dl[i] = TC(x[i]) - centre;
    }
    TC* GM_RESTRICT y0 = y;
    TC* GM_RESTRICT y1 = y + ld;
    TC* GM_RESTRICT y2 = y + 2 * ld;
    TC* GM_RESTRICT y3 = y + 3 * ld;
    const TC zero = TC(0);
    i64 j = 0;
    for (; j + 4 <= D; j += 4) {
        for (i64 i = 0; i < m; ++i) y0[i] = y1[i] = y2[i] = y3[i] = zero;
        for (i64 tile = 0; tile <= j; tile += 4) {
            // a{r}{c}: P[tile + r, j + c]; only the last tile (tile == j) reaches
            // below the diagonal (r > c): zero there.
            const bool below = tile == j;
            const TC* p0 = P + tile * D + j;
            const TC* p1 = p0 + D;
            const TC* p2 = p1 + D;
            const TC* p3 = p2 + D;
            const TC a00 = p0[0], a01 = p0[1], a02 = p0[2], a03 = p0[3];
            const TC a10 = below ? zero : p1[0], a11 = p1[1], a12 = p1[2], a13 = p1[3];
            const TC a20 = below ? zero : p2[0], a21 = below ? zero : p2[1];
            const TC a22 = p2[2], a23 = p2[3];
            const TC a30 = below ? zero : p3[0], a31 = below ? zero : p3[1];
            const TC a32 = below ? zero : p3[2], a33 = p3[3];
            const TC *d0 = diff + tile * ld, *d1 = d0 + ld, *d2 = d1 + ld, *d3 = d2 + ld;
            for (i64 i = 0; i < m; ++i) {
                const TC e0 = d0[i], e1 = d1[i], e2 = d2[i], e3 = d3[i];
                y0[i] += fmadd(e1, a10, e0 * a00) + fmadd(e3, a30, e2 * a20);
                y1[i] += fmadd(e1, a11, e0 * a01) + fmadd(e3, a31, e2 * a21);
                y2[i] += fmadd(e1, a12, e0 * a02) + fmadd(e3, a32, e2 * a22);
                y3[i] += fmadd(e1, a13, e0 * a03) + fmadd(e3, a33, e2 * a23);
            }
        }
        for (i64 i = 0; i < m; ++i)
            quad[i] += fmadd(y1[i], y1[i], y0[i] * y0[i]) + fmadd(y3[i], y3[i], y2[i] * y2[i]);
    }
    // Outputs left over (fewer than four): four terms per sweep, one output at a time.
    for (; j < D; ++j) {
        const TC coef = P[j];
        for (i64 i = 0; i < m; ++i) y0[i] = diff[i] * coef;
        i64 l = 1;
        for (; l + 4 <= j + 1; l += 4) {
            const TC c0 = P[l * D + j], c1 = P[(l + 1) * D + j];
            const TC c2 = P[(l + 2) * D + j], c3 = P[(l + 3) * D + j];
            const TC *d0 = diff + l * ld, *d1 = d0 + ld, *d2 = d1 + ld, *d3 = d2 + ld;
            for (i64 i = 0; i < m; ++i)
                y0[i] += fmadd(d1[i], c1, d0[i] * c0) + fmadd(d3[i], c3, d2[i] * c2);
        }
        for (; l <= j; ++l) {
            const TC c = P[l * D + j];
            const TC* dl = diff + l * ld;
            for (i64 i = 0; i < m; ++i) y0[i] = fmadd(dl[i], c, y0[i]);
        }
        for (i64 i = 0; i < m; ++i) quad[i] = fmadd(y0[i], y0[i], quad[i]);
    }
}

template <class TX, class TC>
void full_quad(const TX* Xt, i64 ld, i64 D, i64 m, const TC* mean, const TC* P, TC* wdiff,
               TC* outputs, TC* quad) {
    switch (D) {
        case 1: small_full_quad<1>(Xt, ld, m, mean, P, quad); return;
        case 2: small_full_quad<2>(Xt, ld, m, mean, P, quad); return;
        case 3: small_full_quad<3>(Xt, ld, m, mean, P, quad); return;
        case 4: small_full_quad<4>(Xt, ld, m, mean, P, quad); return;
        case 5: small_full_quad<5>(Xt, ld, m, mean, P, quad); return;
        case 6: small_full_quad<6>(Xt, ld, m, mean, P, quad); return;
        case 7: small_full_quad<7>(Xt, ld, m, mean, P, quad); return;
        default:
            for (i64 i = 0; i < m; ++i) quad[i] = TC(0);
            whitened_squares(Xt, ld, D, m, mean, P, wdiff, outputs, quad);
    }
}

// out[k * ld + i]: log weight_k + log N(x_i | k) in TC; row_max[i]: its maximum
// over k and ``background`` (-inf: none). ``bases[k]``: each component's log weight
// plus log normalising constant. Returns how many quadratic forms were not below
// ``limit`` (an overflow in float32).
template <class TX, class TC>
i64 log_prob(const TX* Xt, i64 ld, i64 D, i64 K, i64 m, const TC* means, const TC* prec,
             const TC* bases, bool full, TC background, TC limit, TC* quad, TC* wdiff,
             TC* outputs, TC* out, TC* row_max) {
    for (i64 i = 0; i < m; ++i) row_max[i] = background;
    i64 n_over = 0;
    const TC half = TC(0.5);
    const TC quad_max = quad_cap<TC>();
    const bool finite = limit < TC(kInf);
    for (i64 k = 0; k < K; ++k) {
        TC* GM_RESTRICT o = out + k * ld;
        TC* GM_RESTRICT rm = row_max;
        if (!full) {
            n_over += diagonal_log_density(Xt, ld, D, m, means + k * D, prec + k * D, bases[k],
                                           limit, quad, o, rm);
            continue;
        }
        full_quad(Xt, ld, D, m, means + k * D, prec + k * D * D, wdiff, outputs, quad);
        const TC* GM_RESTRICT q = quad;
        if (finite) {
            i64 over = 0;
            for (i64 i = 0; i < m; ++i) over += q[i] < limit ? 0 : 1;
            n_over += over;
        }
        const TC base = bases[k];
        for (i64 i = 0; i < m; ++i) {
            TC value = base - half * min2(q[i], quad_max);
            o[i] = value;
            rm[i] = max2(rm[i], value);
        }
    }
    return n_over;
}

// ---------------------------------------------------------------------------
// Vectorised exponentials.
//
// exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody & Waite's two-part
// ln 2, so r is exact to rounding), |r| <= ln(2)/2; exp(r) by its Taylor series to
// degree 13 (truncation below 1e-17 relative). n comes from adding 1.5 * 2^52 (the
// sum's low bits are n, rounded to nearest), and 2^n from those bits moved into the
// exponent field: integer additions and shifts, so the loop stays in vector
// registers (no float-to-integer conversion, which AVX2 lacks for 64 bits).

constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52
// Shifted log-densities are raised to at least this: results below exp(-708) are
// subnormal, and every product with them takes a slow path. exp(-700) ~ 1e-304 is
// a responsibility no sum can see next to the row's largest, which is 1.
constexpr double kLogProbFloor = -700.0;

inline double exp_reduced(double x) {
    const double kn = x * kLog2e + kShifter;
    const double n = kn - kShifter;
    double r = fmadd(-n, kLn2Hi, x);
    r = fmadd(-n, kLn2Lo, r);
    double p = 1.0 / 6227020800.0;
    p = fmadd(p, r, 1.0 / 479001600.0);
    p = fmadd(p, r, 1.0 / 39916800.0);
    p = fmadd(p, r, 1.0 / 3628800.0);
    p = fmadd(p, r, 1.0 / 362880.0);
    p = fmadd(p, r, 1.0 / 40320.0);
    p = fmadd(p, r, 1.0 / 5040.0);
    p = fmadd(p, r, 1.0 / 720.0);
    p = fmadd(p, r, 1.0 / 120.0);
    p = fmadd(p, r, 1.0 / 24.0);
    p = fmadd(p, r, 1.0 / 6.0);
    p = fmadd(p, r, 0.5);
    p = fmadd(p, r, 1.0);
    p = fmadd(p, r, 1.0);
    const uint64_t bits = __builtin_bit_cast(uint64_t, kn) -
                          __builtin_bit_cast(uint64_t, kShifter) + uint64_t(1023);
    return p * __builtin_bit_cast(double, bits << 52);
}

// prob[k * ld + i] = exp(max(log_prob[k * ld + i] - row_max[i], -700)), float64;
// total[i]: the sum over k, taken as the values are stored.
void exp_shifted(const double* GM_RESTRICT log_prob, const double* GM_RESTRICT row_max, i64 K,
                 i64 ld, i64 m, double* GM_RESTRICT prob, double* GM_RESTRICT total) {
    for (i64 i = 0; i < m; ++i) total[i] = 0.0;
    for (i64 k = 0; k < K; ++k) {
        const double* GM_RESTRICT source = log_prob + k * ld;
        double* GM_RESTRICT row = prob + k * ld;
        for (i64 i = 0; i < m; ++i) {
            const double x = max2(source[i] - row_max[i], kLogProbFloor);
            const double value = exp_reduced(x);
            row[i] = value;
            total[i] += value;
        }
    }
}

// The float32 twin: float32 holds no normal number below exp(-87.3), so shifted
// values below -87 give exactly 0, as float32's exp underflows (not a floor: a
// floored weight times the squared distance of a far row could reach any size).
// ln 2 = hi + lo with an 11-bit high part, so n ln2_hi is exact for |n| <= 126;
// exp(r) by its Taylor series to degree 7 (below one float32 ulp).
constexpr float kLog2eF = 1.4426950408889634f;
constexpr float kLn2HiF = 0.693359375f;
constexpr float kLn2LoF = -2.12194440e-4f;
constexpr float kShifterF = 12582912.0f;  // 1.5 * 2^23
constexpr float kFloorF = -87.0f;

// prob[k * ld + i] = exp(log_prob - row_max) in float32, 0 below exp(-87); the shift
// in TL (float32, or float64 for log-densities too large for float32's forms).
template <class TL>
void exp_shifted_single(const TL* GM_RESTRICT log_prob, const TL* GM_RESTRICT row_max, i64 K,
                        i64 ld, i64 m, float* GM_RESTRICT prob, float* GM_RESTRICT total) {
#if defined(GM_HAVE_FMA)
    constexpr float c2 = 1.0f / 2, c3 = 1.0f / 6, c4 = 1.0f / 24, c5 = 1.0f / 120;
    constexpr float c6 = 1.0f / 720, c7 = 1.0f / 5040;
#endif
    for (i64 i = 0; i < m; ++i) total[i] = 0.0f;
    for (i64 k = 0; k < K; ++k) {
        const TL* GM_RESTRICT source = log_prob + k * ld;
        float* GM_RESTRICT row = prob + k * ld;
        for (i64 i = 0; i < m; ++i) {
            const TL shifted = source[i] - row_max[i];
            const float x = float(max2(shifted, TL(kFloorF)));
#if defined(GM_HAVE_FMA)
            const float kn = x * kLog2eF + kShifterF;
            const float n = kn - kShifterF;
            float r = fmadd(-n, kLn2HiF, x);
            r = fmadd(-n, kLn2LoF, r);
            float p = c7;
            p = fmadd(p, r, c6);
            p = fmadd(p, r, c5);
            p = fmadd(p, r, c4);
            p = fmadd(p, r, c3);
            p = fmadd(p, r, c2);
            p = fmadd(p, r, 1.0f);
            p = fmadd(p, r, 1.0f);
            const uint32_t bits = (__builtin_bit_cast(uint32_t, kn) -
                                   __builtin_bit_cast(uint32_t, kShifterF) + 127u)
                                  << 23;
            // A zero scale (all exponent bits clear) flushes values below the floor.
            const float scale = __builtin_bit_cast(float, shifted > TL(kFloorF) ? bits : 0u);
            const float value = p * scale;
#else
            // Without fused multiply-adds float32 steps round twice each, and the
            // series can end more than one ulp away: the same series in float64,
            // rounded to float32 once.
            const double kn = double(x) * kLog2e + kShifter;
            const double n = kn - kShifter;
            const double r = (double(x) - n * kLn2Hi) - n * kLn2Lo;
            double p = 1.0 / 5040;
            p = p * r + 1.0 / 720;
            p = p * r + 1.0 / 120;
            p = p * r + 1.0 / 24;
            p = p * r + 1.0 / 6;
            p = p * r + 0.5;
            p = p * r + 1.0;
            p = p * r + 1.0;
            const uint64_t bits = (__builtin_bit_cast(uint64_t, kn) -
                                   __builtin_bit_cast(uint64_t, kShifter) + uint64_t(1023))
                                  << 52;
            const float value =
                shifted > TL(kFloorF) ? float(p * __builtin_bit_cast(double, bits)) : 0.0f;
#endif
            row[i] = value;
            total[i] += value;
        }
    }
}

// ---------------------------------------------------------------------------
// Statistics.

// Totals are multiplied in this many products of at most kLogFactors rows each
// before one log is taken per product.
constexpr i64 kLogGroups = 64;
constexpr i64 kLogFactors = 16;

// sum(log(total[:n])) for totals in [1, K + 1]: rows multiplied into 64 products
// (a loop that vectorises), one log per product. A product holds at most 16
// factors, so at most (K + 1)^16: far from overflow for any K a mixture uses.
double sum_of_logs(const double* GM_RESTRICT total, i64 n) {
    double result = 0.0;
    double products[kLogGroups];
    const i64 segment = kLogGroups * kLogFactors;
    for (i64 first = 0; first < n; first += segment) {
        const i64 last = min_i(first + segment, n);
        for (i64 g = 0; g < kLogGroups; ++g) products[g] = 1.0;
        for (i64 start = first; start < last; start += kLogGroups) {
            const i64 width = min_i(kLogGroups, last - start);
            for (i64 g = 0; g < width; ++g) products[g] *= total[start + g];
        }
        for (i64 g = 0; g < kLogGroups; ++g) result += __builtin_log(products[g]);
    }
    return result;
}

// shift_sums += unit sum_i w_i d_i, second += unit sum_i w_i d_i^2 per feature;
// returns sum_i w_i. w = prob * scale (a component's responsibilities), d = x -
// centre; the sums over the chunk run in A (float32 for float32 rows'
// responsibilities), ``unit`` scales them back in float64. Up to 8 features each
// sweep forms the weights itself; more, a first pass stores them in ``weight``.
// Four features per sweep: eight running sums (nine with the weights).
template <class T, class A>
A diagonal_sums(const T* GM_RESTRICT Xt, i64 ld, i64 D, i64 m, const A* GM_RESTRICT centre,
                const T* GM_RESTRICT prob, const A* GM_RESTRICT scale, A* GM_RESTRICT weight,
                double unit, double* GM_RESTRICT shift_sums, double* GM_RESTRICT second) {
    const bool fused = D <= 8;
    A count = A(0);
    if (!fused) {
        A c = A(0);
        GM_SIMD_REDUCE(c)
        for (i64 i = 0; i < m; ++i) {
            const A w = A(prob[i]) * scale[i];
            weight[i] = w;
            c += w;
        }
        count = c;
    }
    i64 a = 0;
    for (; a + 4 <= D; a += 4) {
        const T *x0 = Xt + a * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        const A c0 = centre[a], c1 = centre[a + 1], c2 = centre[a + 2], c3 = centre[a + 3];
        A f0 = A(0), f1 = A(0), f2 = A(0), f3 = A(0);
        A s0 = A(0), s1 = A(0), s2 = A(0), s3 = A(0);
        A weights = A(0);
        if (fused) {
            GM_SIMD_REDUCE(f0, f1, f2, f3, s0, s1, s2, s3, weights)
            for (i64 i = 0; i < m; ++i) {
                const A w = A(prob[i]) * scale[i];
                weights += w;
                const A d0 = A(x0[i]) - c0, d1 = A(x1[i]) - c1;
                const A d2 = A(x2[i]) - c2, d3 = A(x3[i]) - c3;
                const A t0 = w * d0, t1 = w * d1, t2 = w * d2, t3 = w * d3;
                f0 += t0;
                f1 += t1;
                f2 += t2;
                f3 += t3;
                s0 = fmadd(t0, d0, s0);
                s1 = fmadd(t1, d1, s1);
                s2 = fmadd(t2, d2, s2);
                s3 = fmadd(t3, d3, s3);
            }
            if (a == 0) count = weights;
        } else {
            GM_SIMD_REDUCE(f0, f1, f2, f3, s0, s1, s2, s3)
            for (i64 i = 0; i < m; ++i) {
                const A w = weight[i];
                const A d0 = A(x0[i]) - c0, d1 = A(x1[i]) - c1;
                const A d2 = A(x2[i]) - c2, d3 = A(x3[i]) - c3;
                const A t0 = w * d0, t1 = w * d1, t2 = w * d2, t3 = w * d3;
                f0 += t0;
                f1 += t1;
                f2 += t2;
                f3 += t3;
                s0 = fmadd(t0, d0, s0);
                s1 = fmadd(t1, d1, s1);
                s2 = fmadd(t2, d2, s2);
                s3 = fmadd(t3, d3, s3);
            }
        }
        shift_sums[a] += unit * double(f0);
        shift_sums[a + 1] += unit * double(f1);
        shift_sums[a + 2] += unit * double(f2);
        shift_sums[a + 3] += unit * double(f3);
        second[a] += unit * double(s0);
        second[a + 1] += unit * double(s1);
        second[a + 2] += unit * double(s2);
        second[a + 3] += unit * double(s3);
    }
    for (; a < D; ++a) {
        const T* x = Xt + a * ld;
        const A c = centre[a];
        A first = A(0), square = A(0), weights = A(0);
        GM_SIMD_REDUCE(first, square, weights)
        for (i64 i = 0; i < m; ++i) {
            const A w = fused ? A(prob[i]) * scale[i] : weight[i];
            weights += w;
            const A d = A(x[i]) - c;
            const A t = w * d;
            first += t;
            square = fmadd(t, d, square);
        }
        shift_sums[a] += unit * double(first);
        second[a] += unit * double(square);
        if (fused && a == 0) count = weights;
    }
    return count;
}

// Four rows of the scatter by four columns: out[r * D + c] += sum_i t_r[i] d_c[i].
inline void scatter_tile(const double* GM_RESTRICT t0, const double* GM_RESTRICT t1,
                            const double* GM_RESTRICT t2, const double* GM_RESTRICT t3,
                            const double* GM_RESTRICT d, i64 ld, i64 m, double* out, i64 D) {
    const double *d0 = d, *d1 = d + ld, *d2 = d + 2 * ld, *d3 = d + 3 * ld;
    double c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    double c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    GM_SIMD_REDUCE(c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32,
                   c33)
    for (i64 i = 0; i < m; ++i) {
        const double e0 = d0[i], e1 = d1[i], e2 = d2[i], e3 = d3[i];
        const double u0 = t0[i], u1 = t1[i], u2 = t2[i], u3 = t3[i];
        c00 = fmadd(u0, e0, c00);
        c01 = fmadd(u0, e1, c01);
        c02 = fmadd(u0, e2, c02);
        c03 = fmadd(u0, e3, c03);
        c10 = fmadd(u1, e0, c10);
        c11 = fmadd(u1, e1, c11);
        c12 = fmadd(u1, e2, c12);
        c13 = fmadd(u1, e3, c13);
        c20 = fmadd(u2, e0, c20);
        c21 = fmadd(u2, e1, c21);
        c22 = fmadd(u2, e2, c22);
        c23 = fmadd(u2, e3, c23);
        c30 = fmadd(u3, e0, c30);
        c31 = fmadd(u3, e1, c31);
        c32 = fmadd(u3, e2, c32);
        c33 = fmadd(u3, e3, c33);
    }
    double* s0 = out;
    double* s1 = s0 + D;
    double* s2 = s1 + D;
    double* s3 = s2 + D;
    s0[0] += c00, s0[1] += c01, s0[2] += c02, s0[3] += c03;
    s1[0] += c10, s1[1] += c11, s1[2] += c12, s1[3] += c13;
    s2[0] += c20, s2[1] += c21, s2[2] += c22, s2[3] += c23;
    s3[0] += c30, s3[1] += c31, s3[2] += c32, s3[3] += c33;
}

// Two rows of the scatter by four columns: out[r * D + c] += sum_i t_r[i] d_c[i].
inline void scatter_tile2(const double* GM_RESTRICT t0, const double* GM_RESTRICT t1,
                          const double* GM_RESTRICT d, i64 ld, i64 m, double* out, i64 D) {
    const double *d0 = d, *d1 = d + ld, *d2 = d + 2 * ld, *d3 = d + 3 * ld;
    double c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    GM_SIMD_REDUCE(c00, c01, c02, c03, c10, c11, c12, c13)
    for (i64 i = 0; i < m; ++i) {
        const double e0 = d0[i], e1 = d1[i], e2 = d2[i], e3 = d3[i];
        const double u0 = t0[i], u1 = t1[i];
        c00 = fmadd(u0, e0, c00);
        c01 = fmadd(u0, e1, c01);
        c02 = fmadd(u0, e2, c02);
        c03 = fmadd(u0, e3, c03);
        c10 = fmadd(u1, e0, c10);
        c11 = fmadd(u1, e1, c11);
        c12 = fmadd(u1, e2, c12);
        c13 = fmadd(u1, e3, c13);
    }
    double* s0 = out;
    double* s1 = s0 + D;
    s0[0] += c00, s0[1] += c01, s0[2] += c02, s0[3] += c03;
    s1[0] += c10, s1[1] += c11, s1[2] += c12, s1[3] += c13;
}

// Rows of the scatter per tile: with 32 vector registers (AVX-512, AArch64) a tile
// of four rows by four columns keeps its sixteen running sums and eight loads in
// registers; with sixteen, two rows by four (eight sums; four rows spilled three).
#if defined(__AVX512F__) || defined(__aarch64__)
constexpr i64 kTileRows = 4;
#else
constexpr i64 kTileRows = 2;
#endif

// second[a * D + b] += sum_i rdiff[a, i] diff[b, i] for a <= b (and a few a > b in
// the diagonal tiles, which the caller ignores), by tiles of kTileRows x 4.
void add_scatter(const double* GM_RESTRICT rdiff, const double* GM_RESTRICT diff, i64 ld, i64 D,
                 i64 m, double* GM_RESTRICT second) {
    i64 a = 0;
    for (; a + kTileRows <= D; a += kTileRows) {
        const double* t0 = rdiff + a * ld;
        i64 b = a - a % 4;
        for (; b + 4 <= D; b += 4) {
            if (kTileRows == 4)
                scatter_tile(t0, t0 + ld, t0 + 2 * ld, t0 + 3 * ld, diff + b * ld, ld, m,
                             second + a * D + b, D);
            else
                scatter_tile2(t0, t0 + ld, diff + b * ld, ld, m, second + a * D + b, D);
        }
        for (; b < D; ++b) {
            const double* d = diff + b * ld;
            for (i64 r = 0; r < kTileRows; ++r) {
                const double* t = t0 + r * ld;
                double cross = 0;
                GM_SIMD_REDUCE(cross)
                for (i64 i = 0; i < m; ++i) cross = fmadd(t[i], d[i], cross);
                second[(a + r) * D + b] += cross;
            }
        }
    }
    for (; a < D; ++a) {
        const double* t = rdiff + a * ld;
        for (i64 b = a; b < D; ++b) {
            const double* d = diff + b * ld;
            double cross = 0;
            GM_SIMD_REDUCE(cross)
            for (i64 i = 0; i < m; ++i) cross = fmadd(t[i], d[i], cross);
            second[a * D + b] += cross;
        }
    }
}

// Diagonal sums of float32 rows in float32 (``single_stats``), after the row
// scales are in w.row_scale.
void single_diagonal_stats(const EstepProblem& p, const float* Xt, i64 ld, i64 m,
                           bool weighted, const float* prob, const EstepSlot& slot,
                           EstepWork& w) {
    const i64 D = p.n_features, K = p.n_components;
    const double* GM_RESTRICT row_scale = w.row_scale;
    float* GM_RESTRICT scale_x = w.scale_x;
    if (!weighted) {
        // Unweighted float32 responsibilities lie in [0, 1] and need no scaling (one
        // that underflows is below float32's resolution of its component's sums):
        // counts and sums of each chunk in float32, as scikit-learn's.
        for (i64 i = 0; i < m; ++i) scale_x[i] = float(row_scale[i]);
        for (i64 k = 0; k < K; ++k)
            slot.n_k[k] += double(diagonal_sums<float, float>(
                Xt, ld, D, m, p.means_x + k * D, prob + k * ld, scale_x, w.r_x, 1.0,
                slot.shift_sums + k * D, slot.second + k * D));
        return;
    }
    // Weighted float32 responsibilities are scaled to sum to 1, so that no weight
    // overflows or underflows them; the sums are scaled back in float64.
    for (i64 k = 0; k < K; ++k) {
        const float* GM_RESTRICT pk = prob + k * ld;
        double count = 0.0;
        for (i64 i = 0; i < m; ++i) count += double(pk[i]) * row_scale[i];
        slot.n_k[k] += count;
        if (count == 0.0) continue;
        const double inverse = 1.0 / count;
        for (i64 i = 0; i < m; ++i) scale_x[i] = float(row_scale[i] * inverse);
        diagonal_sums<float, float>(Xt, ld, D, m, p.means_x + k * D, pk, scale_x, w.r_x, count,
                                    slot.shift_sums + k * D, slot.second + k * D);
    }
}

// One chunk's soft counts and shifted sums added to the task's slot; returns its
// log-likelihood. ``prob`` holds exp(shifted log-densities) (K x ld, X's dtype),
// ``prob_total`` their sums over components; ``row_max`` the shifts (float64).
template <class T>
double stats_from_prob(const EstepProblem& p, const T* Xt, i64 ld, i64 m, const double* weight,
                       const T* prob, const T* prob_total, const double* row_max,
                       const EstepSlot& slot, EstepWork& w) {
    const i64 D = p.n_features, K = p.n_components;
    double* GM_RESTRICT total = w.total;
    double* GM_RESTRICT row_scale = w.row_scale;
    const double background = p.background;
    if (background > -kInf) {
        for (i64 i = 0; i < m; ++i)
            total[i] = double(prob_total[i]) + __builtin_exp(background - row_max[i]);
    } else {
        for (i64 i = 0; i < m; ++i) total[i] = double(prob_total[i]);
    }
    // Responsibilities are prob / total (not exp(log p - logsumexp)): rows far from
    // every component would otherwise absorb log K and not sum to one.
    double log_likelihood = 0.0;
    if (weight) {
        for (i64 i = 0; i < m; ++i) {
            const double wi = weight[i];
            row_scale[i] = wi / total[i];
            if (wi != 0.0) log_likelihood += wi * (__builtin_log(total[i]) + row_max[i]);
        }
    } else {
        double shifts = 0.0;
        GM_SIMD_REDUCE(shifts)
        for (i64 i = 0; i < m; ++i) {
            row_scale[i] = 1.0 / total[i];
            shifts += row_max[i];
        }
        log_likelihood = shifts + sum_of_logs(total, m);
    }
    double* n_k = slot.n_k;
    double* shift_sums = slot.shift_sums;
    double* second = slot.second;
    if (!p.full_scatter) {
        if constexpr (sizeof(T) == sizeof(float)) {
            if (p.single_stats) {
                single_diagonal_stats(p, Xt, ld, m, weight != nullptr, prob, slot, w);
                return log_likelihood;
            }
        }
        for (i64 k = 0; k < K; ++k)
            n_k[k] += diagonal_sums<T, double>(Xt, ld, D, m, p.means + k * D, prob + k * ld,
                                               row_scale, w.r, 1.0, shift_sums + k * D,
                                               second + k * D);
        return log_likelihood;
    }
    double* GM_RESTRICT r = w.r;
    double* GM_RESTRICT diff = w.diff;
    double* GM_RESTRICT rdiff = w.rdiff;
    for (i64 k = 0; k < K; ++k) {
        const T* GM_RESTRICT pk = prob + k * ld;
        double count = 0.0;
        GM_SIMD_REDUCE(count)
        for (i64 i = 0; i < m; ++i) {
            r[i] = double(pk[i]) * row_scale[i];
            count += r[i];
        }
        n_k[k] += count;
        const double* mean = p.means + k * D;
        for (i64 a = 0; a < D; ++a) {
            const double centre = mean[a];
            const T* GM_RESTRICT x = Xt + a * ld;
            double* GM_RESTRICT da = diff + a * ld;
            double* GM_RESTRICT ra = rdiff + a * ld;
            double first = 0.0;
            GM_SIMD_REDUCE(first)
            for (i64 i = 0; i < m; ++i) {
                const double d = double(x[i]) - centre;
                const double t = r[i] * d;
                da[i] = d;
                ra[i] = t;
                first += t;
            }
            shift_sums[k * D + a] += first;
        }
        add_scatter(rdiff, diff, ld, D, m, second + k * D * D);
    }
    return log_likelihood;
}

// A float32 quadratic form at or above this may have overflowed on the way.
constexpr float kSingleQuadLimit = 1e37f;

// One task: rows task * task_rows on, chunk by chunk, into ``slot``.
template <class T>
void estep_task_typed(const EstepProblem& p, EstepWork& w, i64 task, const EstepSlot& slot) {
    const T* X = static_cast<const T*>(p.X);
    const i64 D = p.n_features, K = p.n_components, ld = w.ld;
    const i64 first = task * p.task_rows;
    const i64 last = min_i(first + p.task_rows, p.n_rows);
    T* Xt = static_cast<T*>(w.Xt);
    T* prob = static_cast<T*>(w.prob);
    T* prob_total = static_cast<T*>(w.prob_total);
    double task_log_likelihood = 0.0;
    for (i64 start = first; start < last; start += p.chunk) {
        const i64 m = min_i(p.chunk, last - start);
        transpose_rows(X, D, start, m, Xt, ld);
        bool done = false;
        if (p.single) {
            // float32 log-densities, relative to the largest log normalising constant.
            const i64 over = log_prob<T, float>(
                Xt, ld, D, K, m, p.means_x, p.prec_x, p.log_norm_x, p.full, p.background_x,
                kSingleQuadLimit, static_cast<float*>(w.quad), static_cast<float*>(w.wdiff),
                static_cast<float*>(w.outputs), w.log_prob_single, w.row_max_single);
            done = over == 0;
            if (done) {
                exp_shifted_single<float>(w.log_prob_single, w.row_max_single, K, ld, m,
                                          reinterpret_cast<float*>(prob),
                                          reinterpret_cast<float*>(prob_total));
                for (i64 i = 0; i < m; ++i)
                    w.row_max[i] = double(w.row_max_single[i]) + p.log_offset;
            }
        }
        if (!done) {
            // float64 parameters make the arithmetic float64 whatever the rows' dtype.
            log_prob<T, double>(Xt, ld, D, K, m, p.means, p.prec, p.log_norm, p.full,
                                p.background, kInf, static_cast<double*>(w.quad),
                                static_cast<double*>(w.wdiff), static_cast<double*>(w.outputs),
                                w.log_prob, w.row_max);
            if (p.single)
                exp_shifted_single<double>(w.log_prob, w.row_max, K, ld, m,
                                           reinterpret_cast<float*>(prob),
                                           reinterpret_cast<float*>(prob_total));
            else
                exp_shifted(w.log_prob, w.row_max, K, ld, m,
                            reinterpret_cast<double*>(prob),
                            reinterpret_cast<double*>(prob_total));
        }
        const double* rows_weight = p.weight ? p.weight + start : nullptr;
        task_log_likelihood +=
            stats_from_prob<T>(p, Xt, ld, m, rows_weight, prob, prob_total, w.row_max, slot, w);
    }
    *slot.log_likelihood = task_log_likelihood;
}

void estep_task(const EstepProblem& p, EstepWork& w, i64 task, const EstepSlot& slot) {
    if (p.single)
        estep_task_typed<float>(p, w, task, slot);
    else
        estep_task_typed<double>(p, w, task, slot);
}

// log p(x_i) and the log responsibilities of each row, in float64 whatever the rows'
// dtype (for predictions). Every row goes through the same operations wherever it
// lies in a chunk (vector lanes and the loops' scalar ends alike), so a row's
// numbers do not depend on the rows scored with it.
template <class T>
void score_rows(const T* X, i64 n, i64 D, i64 K, const double* means, const double* prec,
                bool full, const double* log_norm, double* log_prob_out, double* log_resp,
                ScoreWork& w) {
    const i64 ld = w.ld;
    for (i64 start = 0; start < n; start += ld) {
        const i64 m = min_i(ld, n - start);
        transpose_rows(X, D, start, m, w.Xt, ld);
        log_prob<double, double>(w.Xt, ld, D, K, m, means, prec, log_norm, full, -kInf, kInf,
                                 w.quad, w.wdiff, w.outputs, w.log_prob, w.row_max);
        exp_shifted(w.log_prob, w.row_max, K, ld, m, w.prob, w.total);
        for (i64 i = 0; i < m; ++i) {
            const double shift = w.row_max[i];
            const double log_total = __builtin_log(w.total[i]);
            log_prob_out[start + i] = shift + log_total;
            double* out = log_resp + (start + i) * K;
            for (i64 k = 0; k < K; ++k) out[k] = (w.log_prob[k * ld + i] - shift) - log_total;
        }
    }
}

// ---------------------------------------------------------------------------
// k-means.

// dist[i] = |Xt[:, i] - centre|^2, features four at a time.
void squared_distances(const double* GM_RESTRICT Xt, i64 ld, i64 D, i64 m,
                       const double* GM_RESTRICT centre, double* GM_RESTRICT dist) {
    for (i64 i = 0; i < m; ++i) dist[i] = 0.0;
    i64 a = 0;
    for (; a + 4 <= D; a += 4) {
        const double *x0 = Xt + a * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        const double c0 = centre[a], c1 = centre[a + 1], c2 = centre[a + 2], c3 = centre[a + 3];
        for (i64 i = 0; i < m; ++i) {
            const double t0 = x0[i] - c0, t1 = x1[i] - c1, t2 = x2[i] - c2, t3 = x3[i] - c3;
            dist[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3);
        }
    }
    for (; a < D; ++a) {
        const double* x = Xt + a * ld;
        const double c = centre[a];
        for (i64 i = 0; i < m; ++i) {
            const double t = x[i] - c;
            dist[i] += t * t;
        }
    }
}

// Nearest centre of each row (the first of equally distant ones, as scikit-learn)
// across transposed chunks; weighted sums of the rows per centre.
template <class T>
void lloyd_block(const T* X, i64 n, i64 D, const double* weight, const double* centers, i64 K,
                 int32_t* labels, double* sums, double* weights, KmeansWork& w) {
    const i64 ld = w.ld;
    double* GM_RESTRICT dist = w.dist;
    double* GM_RESTRICT best = w.best;
    int64_t* GM_RESTRICT label = w.label;
    for (i64 start = 0; start < n; start += ld) {
        const i64 m = min_i(ld, n - start);
        transpose_rows(X, D, start, m, w.Xt, ld);
        for (i64 i = 0; i < m; ++i) {
            best[i] = kInf;
            label[i] = 0;
        }
        for (i64 j = 0; j < K; ++j) {
            squared_distances(w.Xt, ld, D, m, centers + j * D, dist);
            for (i64 i = 0; i < m; ++i) {
                const bool nearer = dist[i] < best[i];
                best[i] = nearer ? dist[i] : best[i];
                label[i] = nearer ? j : label[i];
            }
        }
        // Sums from the row-major block: one contiguous row per point.
        for (i64 i = 0; i < m; ++i) {
            const i64 j = label[i];
            labels[start + i] = int32_t(j);
            const double wi = weight ? weight[start + i] : 1.0;
            weights[j] += wi;
            const T* x = X + (start + i) * D;
            double* s = sums + j * D;
            for (i64 a = 0; a < D; ++a) s[a] += wi * double(x[a]);
        }
    }
}

// Squared distances from row x to centres c0..c3, in T (float32 rows in float32,
// as scikit-learn compares them): each value read once for four differences.
template <class T>
inline void four_distances(const T* GM_RESTRICT x, i64 D, const T* GM_RESTRICT c0,
                           const T* GM_RESTRICT c1, const T* GM_RESTRICT c2,
                           const T* GM_RESTRICT c3, T out[4]) {
    T d0 = T(0), d1 = T(0), d2 = T(0), d3 = T(0);
    GM_SIMD_REDUCE(d0, d1, d2, d3)
    for (i64 a = 0; a < D; ++a) {
        const T v = x[a];
        const T t0 = v - c0[a], t1 = v - c1[a], t2 = v - c2[a], t3 = v - c3[a];
        d0 = fmadd(t0, t0, d0);
        d1 = fmadd(t1, t1, d1);
        d2 = fmadd(t2, t2, d2);
        d3 = fmadd(t3, t3, d3);
    }
    out[0] = d0;
    out[1] = d1;
    out[2] = d2;
    out[3] = d3;
}

template <class T>
inline T row_distance(const T* GM_RESTRICT x, i64 D, const T* GM_RESTRICT c) {
    T dist = T(0);
    GM_SIMD_REDUCE(dist)
    for (i64 a = 0; a < D; ++a) {
        const T t = x[a] - c[a];
        dist = fmadd(t, t, dist);
    }
    return dist;
}

// Row by row in place (rows at least twice as wide as the number of centres):
// each distance a reduction across features, four centres per sweep over a row.
template <class T>
void lloyd_rows(const T* X, i64 n, i64 D, const double* weight, const T* centers, i64 K,
                int32_t* labels, double* sums, double* weights) {
    for (i64 i = 0; i < n; ++i) {
        const T* x = X + i * D;
        T best = T(kInf);
        i64 label = 0;
        i64 j = 0;
        T d[4];
        for (; j + 4 <= K; j += 4) {
            four_distances(x, D, centers + j * D, centers + (j + 1) * D, centers + (j + 2) * D,
                           centers + (j + 3) * D, d);
            // Strict '<' in centre order: the first of equally distant centres wins.
            for (int c = 0; c < 4; ++c) {
                if (d[c] < best) {
                    best = d[c];
                    label = j + c;
                }
            }
        }
        for (; j < K; ++j) {
            const T dist = row_distance(x, D, centers + j * D);
            if (dist < best) {
                best = dist;
                label = j;
            }
        }
        labels[i] = int32_t(label);
        const double wi = weight ? weight[i] : 1.0;
        weights[label] += wi;
        double* s = sums + label * D;
        for (i64 a = 0; a < D; ++a) s[a] += wi * double(x[a]);
    }
}

// k-means++: out[c * n + i] = min(closest[i], |x_i - candidate_c|^2), pots[c] their
// weighted sums; chunks outermost, so each chunk is read once for all candidates.
template <class T>
void candidates_block(const T* X, i64 n, i64 D, const double* weight, const double* closest,
                      const double* candidates, i64 n_cand, double* out, double* pots,
                      KmeansWork& w) {
    const i64 ld = w.ld;
    double* GM_RESTRICT row = w.dist;
    for (i64 c = 0; c < n_cand; ++c) pots[c] = 0.0;
    for (i64 start = 0; start < n; start += ld) {
        const i64 m = min_i(ld, n - start);
        transpose_rows(X, D, start, m, w.Xt, ld);
        for (i64 c = 0; c < n_cand; ++c) {
            squared_distances(w.Xt, ld, D, m, candidates + c * D, row);
            double* GM_RESTRICT o = out + c * n + start;
            const double* GM_RESTRICT near = closest + start;
            double pot = 0.0;
            if (weight) {
                const double* GM_RESTRICT wt = weight + start;
                GM_SIMD_REDUCE(pot)
                for (i64 i = 0; i < m; ++i) {
                    const double v = min2(row[i], near[i]);
                    o[i] = v;
                    pot = fmadd(v, wt[i], pot);
                }
            } else {
                GM_SIMD_REDUCE(pot)
                for (i64 i = 0; i < m; ++i) {
                    const double v = min2(row[i], near[i]);
                    o[i] = v;
                    pot += v;
                }
            }
            pots[c] += pot;
        }
    }
}

template <class T>
void candidates_rows(const T* X, i64 n, i64 D, const double* weight, const double* closest,
                     const T* candidates, i64 n_cand, double* out, double* pots) {
    for (i64 c = 0; c < n_cand; ++c) pots[c] = 0.0;
    T d[4];
    for (i64 i = 0; i < n; ++i) {
        const T* x = X + i * D;
        const double nearest = closest[i];
        const double wi = weight ? weight[i] : 1.0;
        i64 c = 0;
        for (; c + 4 <= n_cand; c += 4) {
            four_distances(x, D, candidates + c * D, candidates + (c + 1) * D,
                           candidates + (c + 2) * D, candidates + (c + 3) * D, d);
            for (int e = 0; e < 4; ++e) {
                const double v = min2(double(d[e]), nearest);
                out[(c + e) * n + i] = v;
                pots[c + e] += v * wi;
            }
        }
        for (; c < n_cand; ++c) {
            const double v = min2(double(row_distance(x, D, candidates + c * D)), nearest);
            out[c * n + i] = v;
            pots[c] += v * wi;
        }
    }
}

// Unweighted variance of each column: two passes (about the means), float64.
template <class T>
void column_variances(const T* X, i64 n, i64 D, double* GM_RESTRICT mean,
                      double* GM_RESTRICT out) {
    for (i64 a = 0; a < D; ++a) mean[a] = 0.0;
    for (i64 i = 0; i < n; ++i) {
        const T* GM_RESTRICT x = X + i * D;
        for (i64 a = 0; a < D; ++a) mean[a] += double(x[a]);
    }
    for (i64 a = 0; a < D; ++a) {
        mean[a] /= double(n);
        out[a] = 0.0;
    }
    for (i64 i = 0; i < n; ++i) {
        const T* GM_RESTRICT x = X + i * D;
        for (i64 a = 0; a < D; ++a) {
            const double d = double(x[a]) - mean[a];
            out[a] = fmadd(d, d, out[a]);
        }
    }
    for (i64 a = 0; a < D; ++a) out[a] /= double(n);
}

}  // namespace

#define GM_NAME_(x) #x
#define GM_NAME(x) GM_NAME_(x)

extern const Kernels kernels = {
    GM_NAME(GM_TARGET),
    estep_task,
    transpose_rows<float, float>,
    transpose_rows<double, double>,
    transpose_rows<float, double>,
    transpose_rows<double, float>,
    exp_shifted,
    exp_shifted_single<double>,
    exp_shifted_single<float>,
    sum_of_logs,
    lloyd_block<float>,
    lloyd_block<double>,
    lloyd_rows<float>,
    lloyd_rows<double>,
    candidates_block<float>,
    candidates_block<double>,
    candidates_rows<float>,
    candidates_rows<double>,
    column_variances<float>,
    column_variances<double>,
    score_rows<float>,
    score_rows<double>,
};

}  // namespace GM_TARGET
}  // namespace gaussmix
