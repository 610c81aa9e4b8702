#include "estep.hpp"

#include <algorithm>
#include <cmath>

#include "workspace.hpp"

namespace gaussmix {

namespace {

// A diagonal scatter summed in float32 below this fraction of its sum of squared
// differences to the centre is summed again in float64 (float32 sums carry a
// relative rounding of about 1e-7, so such a scatter keeps about five digits).
constexpr double kSingleResolved = 1e-2;

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace

EstepPass::EstepPass(const Kernels* kernels, const void* X, bool single, int64_t n_rows,
                     int64_t n_features, int64_t n_components, const double* weight,
                     const double* means, const double* prec, bool full,
                     const double* log_norm, double background, bool full_scatter,
                     int64_t task_rows)
    : kernels_(kernels) {
    const int64_t D = n_features, K = n_components;
    EstepProblem& p = problem_;
    p.X = X;
    p.single = single;
    p.n_rows = n_rows;
    p.n_features = D;
    p.n_components = K;
    p.weight = weight;
    p.means = means;
    p.prec = prec;
    p.log_norm = log_norm;
    p.full = full;
    p.background = background;
    p.full_scatter = full_scatter;
    p.single_stats = single && !full_scatter;
    p.task_rows = std::max<int64_t>(task_rows, 1);
    p.chunk = std::min(kChunkRows, std::max<int64_t>(std::min(p.task_rows, n_rows), 1));
    n_tasks_ = std::max<int64_t>((n_rows + p.task_rows - 1) / p.task_rows, 1);
    second_rows_ = full_scatter ? D : 1;

    // float32 log-densities are taken relative to the largest log normalising
    // constant, so that their rounding follows the size of the quadratic forms and
    // of the constants' differences, not of the constants.
    double offset = -INFINITY;
    for (int64_t k = 0; k < K; ++k)
        if (std::isfinite(log_norm[k])) offset = std::max(offset, log_norm[k]);
    p.log_offset = std::isfinite(offset) ? offset : 0.0;
    if (single) {
        const int64_t n_prec = full ? K * D * D : K * D;
        means_x_.assign(means, means + K * D);
        prec_x_.assign(prec, prec + n_prec);
        log_norm_x_.resize(K);
        for (int64_t k = 0; k < K; ++k)
            log_norm_x_[k] = static_cast<float>(log_norm[k] - p.log_offset);
    }
    p.means_x = means_x_.data();
    p.prec_x = prec_x_.data();
    p.log_norm_x = log_norm_x_.data();
    p.background_x = static_cast<float>(background - p.log_offset);
    reset();
}

void EstepPass::reset() {
    const int64_t D = problem_.n_features, K = problem_.n_components;
    n_k_.reset(n_tasks_ * K, true);
    shift_sums_.reset(n_tasks_ * K * D, true);
    second_.reset(n_tasks_ * K * second_rows_ * D, true);
    log_likelihood_.reset(n_tasks_, true);
    next_.store(0);
    finished_.store(0);
}

void EstepPass::run() {
    const EstepProblem& p = problem_;
    const int64_t D = p.n_features, K = p.n_components;
    const bool wide = p.full && D >= 8;
    const int64_t ld = p.chunk;
    Workspace space;
    EstepWork w;
    bool allocated = false;
    while (true) {
        const int64_t task = next_.fetch_add(1);
        if (task >= n_tasks_) break;
        if (!allocated) {
            // Only a thread that gets a task pays for its work arrays.
            const size_t x_size = p.single ? sizeof(float) : sizeof(double);
            const int64_t x_doubles = (D * ld * static_cast<int64_t>(x_size) + 7) / 8;
            const int64_t prob_doubles = (K * ld * static_cast<int64_t>(x_size) + 7) / 8;
            const int64_t scatter = p.full_scatter ? D * ld : 0;
            const int64_t singles = p.single ? ld : 0;
            space.reserve<double>(x_doubles);
            space.reserve<double>(K * ld);
            space.reserve<double>(prob_doubles);
            space.reserve<double>(ld);
            space.reserve<float>(K * singles);
            space.reserve<float>(singles);
            space.reserve<double>(ld);  // prob_total
            space.reserve<double>(ld);
            space.reserve<double>(ld);
            space.reserve<double>(ld);
            space.reserve<float>(singles);
            space.reserve<float>(singles);
            space.reserve<double>(scatter);
            space.reserve<double>(scatter);
            space.reserve<double>(ld);
            space.reserve<double>(wide ? D * ld : 0);
            space.reserve<double>(wide ? 4 * ld : 0);
            space.allocate();
            w.ld = ld;
            w.Xt = space.carve<double>(x_doubles);
            w.log_prob = space.carve<double>(K * ld);
            w.prob = space.carve<double>(prob_doubles);
            w.row_max = space.carve<double>(ld);
            w.log_prob_single = space.carve<float>(K * singles);
            w.row_max_single = space.carve<float>(singles);
            w.prob_total = space.carve<double>(ld);
            w.total = space.carve<double>(ld);
            w.row_scale = space.carve<double>(ld);
            w.r = space.carve<double>(ld);
            w.scale_x = space.carve<float>(singles);
            w.r_x = space.carve<float>(singles);
            w.diff = space.carve<double>(scatter);
            w.rdiff = space.carve<double>(scatter);
            w.quad = space.carve<double>(ld);
            w.wdiff = space.carve<double>(wide ? D * ld : 0);
            w.outputs = space.carve<double>(wide ? 4 * ld : 0);
            allocated = true;
        }
        EstepSlot slot;
        slot.n_k = n_k_.data() + task * K;
        slot.shift_sums = shift_sums_.data() + task * K * D;
        slot.second = second_.data() + task * K * second_rows_ * D;
        slot.log_likelihood = log_likelihood_.data() + task;
        kernels_->estep_task(p, w, task, slot);
        // Sequentially consistent: a thread that sees the count sees the slot.
        finished_.fetch_add(1);
    }
}

bool EstepPass::wait(int64_t max_spins) const {
    // Spinning rather than sleeping: a thread woken from sleep takes tens of
    // microseconds to run again, a large part of a pass over 1e5 rows.
    for (int64_t spin = 0; spin < max_spins; ++spin) {
        if (finished_.load(std::memory_order_acquire) >= n_tasks_) return true;
        spin_pause();
    }
    return finished_.load(std::memory_order_acquire) >= n_tasks_;
}

double EstepPass::result(double* n_k, double* mean_k, double* scatter_k) {
    double log_likelihood = 0.0;
    while (!finish(n_k, mean_k, scatter_k, &log_likelihood)) {
        // float32 sums too coarse for these rows: sum them again in float64.
        problem_.single_stats = false;
        reset();
        run();
    }
    return log_likelihood;
}

bool EstepPass::finish(double* n_k, double* mean_k, double* scatter_k,
                       double* log_likelihood) const {
    const int64_t D = problem_.n_features, K = problem_.n_components, S = second_rows_;
    // The slots' sums in task order (the same whichever threads filled them).
    std::vector<double> shift_sums(K * D, 0.0), second(K * S * D, 0.0);
    std::fill(n_k, n_k + K, 0.0);
    double total_log_likelihood = 0.0;
    for (int64_t t = 0; t < n_tasks_; ++t) {
        total_log_likelihood += log_likelihood_[t];
        const double* slot_n = n_k_.data() + t * K;
        const double* slot_shift = shift_sums_.data() + t * K * D;
        const double* slot_second = second_.data() + t * K * S * D;
        for (int64_t k = 0; k < K; ++k) n_k[k] += slot_n[k];
        for (int64_t j = 0; j < K * D; ++j) shift_sums[j] += slot_shift[j];
        for (int64_t j = 0; j < K * S * D; ++j) second[j] += slot_second[j];
    }
    *log_likelihood = total_log_likelihood;

    // Sums about the centres re-centred at the rows' own means: shift m = sum r d / n,
    // W = S - n m m^T. The full sums fill the upper triangle, mirrored below. A
    // component with no weight has mean 0. With float32 diagonal sums, a scatter is
    // kept only where no variance keeps less than kSingleResolved of its sum about
    // the centre: one all but cancelled by the shift of the mean from the centre (a
    // far start, or repeated rows) would be mostly float32 rounding.
    const bool check = problem_.single_stats;
    std::vector<double> shift(D);
    for (int64_t k = 0; k < K; ++k) {
        const double count = n_k[k];
        for (int64_t a = 0; a < D; ++a) {
            const double centre =
                check ? double(problem_.means_x[k * D + a]) : problem_.means[k * D + a];
            shift[a] = count > 0 ? shift_sums[k * D + a] / count : 0.0;
            mean_k[k * D + a] = count > 0 ? centre + shift[a] : 0.0;
        }
        const double* sums = second.data() + k * S * D;
        if (problem_.full_scatter) {
            double* out = scatter_k + k * D * D;
            for (int64_t a = 0; a < D; ++a)
                for (int64_t b = 0; b < D; ++b) {
                    const double s = a <= b ? sums[a * D + b] : sums[b * D + a];
                    out[a * D + b] = s - count * shift[a] * shift[b];
                }
        } else {
            double* out = scatter_k + k * D;
            for (int64_t a = 0; a < D; ++a) {
                out[a] = sums[a] - count * shift[a] * shift[a];
                if (check && out[a] < kSingleResolved * sums[a]) return false;
            }
        }
    }
    return true;
}

}  // namespace gaussmix
