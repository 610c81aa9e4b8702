// One pass of the fused E-step over all the rows, as tasks that any number of
// threads claim from an atomic counter.
#pragma once

#include <atomic>
#include <stdint.h>
#include <vector>

#include "common.hpp"
#include "memory.hpp"

namespace gaussmix {

class EstepPass {
  public:
    // Arrays are borrowed: the caller keeps them alive and unchanged while the
    // pass exists. X: n_rows x D, C order (float32 when ``single``); weight: n_rows
    // or null; means: K x D; prec: K x D x D (``full``) or K x D; log_norm: K.
    EstepPass(const Kernels* kernels, const void* X, bool single, int64_t n_rows,
              int64_t n_features, int64_t n_components, const double* weight,
              const double* means, const double* prec, bool full, const double* log_norm,
              double background, bool full_scatter, int64_t task_rows);

    // Take and run tasks until none is left (from any thread).
    void run();
    // Spin until every task finished, at most max_spins times; whether they did.
    bool wait(int64_t max_spins) const;
    // The statistics of all the rows, after every task ran: n_k (K), mean_k (K x D),
    // scatter_k (K x D x D, or K x D for the diagonal), summed in task order.
    double result(double* n_k, double* mean_k, double* scatter_k);

    int64_t task_rows() const { return problem_.task_rows; }
    int64_t n_tasks() const { return n_tasks_; }
    const char* target() const { return kernels_->name; }

  private:
    void reset();
    bool finish(double* n_k, double* mean_k, double* scatter_k, double* log_likelihood) const;

    const Kernels* kernels_;
    EstepProblem problem_;
    int64_t n_tasks_;
    int64_t second_rows_;
    std::vector<float> means_x_, prec_x_, log_norm_x_;
    Buffer<double> n_k_, shift_sums_, second_, log_likelihood_;
    std::atomic<int64_t> next_{0};
    std::atomic<int64_t> finished_{0};
};

}  // namespace gaussmix
