// Python bindings of the compiled kernels (module gaussmix.kernels._gaussmix).
// Arrays come in with their dtype, shape and layout checked here, outputs are
// allocated here (with the GIL held), and the work runs with the GIL released.
// The Python wrappers in gaussmix/kernels/_compiled.py document each function.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "dispatch.hpp"
#include "threads.hpp"
#include "estep.hpp"
#include "hc.hpp"
#include "kmeans.hpp"
#include "memory.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace gaussmix {
namespace {

using Rows = nb::ndarray<nb::ro, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T, int N>
using In = nb::ndarray<const T, nb::ndim<N>, nb::c_contig, nb::device::cpu>;
template <class T, int N>
using Out = nb::ndarray<T, nb::ndim<N>, nb::c_contig, nb::device::cpu>;
template <class T>
using Array = nb::ndarray<nb::numpy, T>;

// A new zeroed NumPy array of ``shape``; ``data`` points at its values.
template <class T>
Array<T> new_array(std::initializer_list<size_t> shape, T*& data) {
    size_t count = 1;
    for (size_t extent : shape) count *= extent;
    data = new T[count > 0 ? count : 1]();
    track_allocation(data, count * sizeof(T));
    nb::capsule owner(data, [](void* p) noexcept {
        untrack_allocation(p);
        delete[] static_cast<T*>(p);
    });
    return Array<T>(data, shape, owner);
}

template <class Array>
bool is_single(const Array& X, const char* name) {
    if (X.dtype() == nb::dtype<float>()) return true;
    if (X.dtype() == nb::dtype<double>()) return false;
    throw nb::type_error((std::string(name) + " must be float32 or float64").c_str());
}

void check(bool condition, const char* message) {
    if (!condition) throw nb::value_error(message);
}

const double* weight_data(const std::optional<In<double, 1>>& weight, size_t n_rows) {
    if (!weight) return nullptr;
    check(weight->shape(0) == n_rows, "sample_weight must have one value per row");
    return weight->data();
}

// The E-step pass with the arrays it borrows.
class PyEstepPass {
  public:
    PyEstepPass(Rows X, std::optional<In<double, 1>> weight, In<double, 2> means,
                nb::ndarray<const double, nb::c_contig, nb::device::cpu> prec,
                In<double, 1> log_norm, bool full, bool full_scatter, double background,
                int64_t task_rows)
        : X_(X), weight_(weight), means_(means), prec_(prec), log_norm_(log_norm) {
        const bool single = is_single(X, "X");
        const size_t n_rows = X.shape(0), D = X.shape(1), K = means.shape(0);
        check(means.shape(1) == D, "means must have one column per feature");
        check(log_norm.shape(0) == K, "log_norm must have one value per component");
        if (full)
            check(prec.ndim() == 3 && prec.shape(0) == K && prec.shape(1) == D &&
                      prec.shape(2) == D,
                  "full precision factors must have shape (K, D, D)");
        else
            check(prec.ndim() == 2 && prec.shape(0) == K && prec.shape(1) == D,
                  "diagonal precision factors must have shape (K, D)");
        check(task_rows > 0, "task_rows must be positive");
        full_scatter_ = full_scatter;
        pass_ = std::make_unique<EstepPass>(
            &active_kernels(), X.data(), single, int64_t(n_rows), int64_t(D), int64_t(K),
            weight_data(weight, n_rows), means.data(), prec.data(), full, log_norm.data(),
            background, full_scatter, task_rows);
    }

    void run() {
        nb::gil_scoped_release release;
        pass_->run();
    }

    bool wait(int64_t max_spins) {
        nb::gil_scoped_release release;
        return pass_->wait(max_spins);
    }

    nb::tuple result() {
        const size_t K = means_.shape(0), D = means_.shape(1);
        double *n_k, *mean_k, *scatter_k;
        auto n_k_array = new_array<double>({K}, n_k);
        auto mean_array = new_array<double>({K, D}, mean_k);
        auto scatter_array = full_scatter_ ? new_array<double>({K, D, D}, scatter_k)
                                           : new_array<double>({K, D}, scatter_k);
        double log_likelihood;
        {
            nb::gil_scoped_release release;
            log_likelihood = pass_->result(n_k, mean_k, scatter_k);
        }
        return nb::make_tuple(n_k_array, mean_array, scatter_array, log_likelihood);
    }

    int64_t task_rows() const { return pass_->task_rows(); }
    int64_t n_tasks() const { return pass_->n_tasks(); }
    std::string target() const { return pass_->target(); }

  private:
    Rows X_;
    std::optional<In<double, 1>> weight_;
    In<double, 2> means_;
    nb::ndarray<const double, nb::c_contig, nb::device::cpu> prec_;
    In<double, 1> log_norm_;
    bool full_scatter_;
    std::unique_ptr<EstepPass> pass_;
};

nb::tuple py_lloyd_step(Rows X, std::optional<In<double, 1>> weight, In<double, 2> centers) {
    const size_t n = X.shape(0), D = X.shape(1), K = centers.shape(0);
    check(centers.shape(1) == D, "centers must have one column per feature");
    const double* w = weight_data(weight, n);
    const bool single = is_single(X, "X");
    int32_t* labels;
    double *sums, *weights;
    auto labels_array = new_array<int32_t>({n}, labels);
    auto sums_array = new_array<double>({K, D}, sums);
    auto weights_array = new_array<double>({K}, weights);
    {
        nb::gil_scoped_release release;
        const Kernels& kernels = active_kernels();
        if (single)
            lloyd_step(kernels, static_cast<const float*>(X.data()), n, D, w, centers.data(), K,
                       labels, sums, weights);
        else
            lloyd_step(kernels, static_cast<const double*>(X.data()), n, D, w, centers.data(),
                       K, labels, sums, weights);
    }
    return nb::make_tuple(labels_array, sums_array, weights_array);
}

nb::tuple py_candidate_distances(Rows X, std::optional<In<double, 1>> weight,
                                 In<double, 1> closest, In<double, 2> candidates) {
    const size_t n = X.shape(0), D = X.shape(1), T = candidates.shape(0);
    check(candidates.shape(1) == D, "candidates must have one column per feature");
    check(closest.shape(0) == n, "closest must have one value per row");
    const double* w = weight_data(weight, n);
    const bool single = is_single(X, "X");
    double *out, *pots;
    auto out_array = new_array<double>({T, n}, out);
    auto pots_array = new_array<double>({T}, pots);
    {
        nb::gil_scoped_release release;
        const Kernels& kernels = active_kernels();
        if (single)
            candidate_distances(kernels, static_cast<const float*>(X.data()), n, D, w,
                                closest.data(), candidates.data(), T, out, pots);
        else
            candidate_distances(kernels, static_cast<const double*>(X.data()), n, D, w,
                                closest.data(), candidates.data(), T, out, pots);
    }
    return nb::make_tuple(out_array, pots_array);
}

nb::tuple py_label_stats(Rows X, std::optional<In<double, 1>> weight, In<int64_t, 1> labels,
                         int64_t n_components, bool full) {
    const size_t n = X.shape(0), D = X.shape(1), K = size_t(n_components);
    check(labels.shape(0) == n, "labels must have one value per row");
    check(n_components > 0, "n_components must be positive");
    const int64_t* lab = labels.data();
    for (size_t i = 0; i < n; ++i)
        check(lab[i] >= 0 && lab[i] < n_components, "labels must lie in [0, n_components)");
    const double* w = weight_data(weight, n);
    const bool single = is_single(X, "X");
    double *n_k, *mean_k, *second;
    auto n_k_array = new_array<double>({K}, n_k);
    auto mean_array = new_array<double>({K, D}, mean_k);
    auto second_array = new_array<double>({K, full ? D : 1, D}, second);
    {
        nb::gil_scoped_release release;
        if (single)
            label_stats(static_cast<const float*>(X.data()), n, D, w, lab, K, full, n_k, mean_k,
                        second);
        else
            label_stats(static_cast<const double*>(X.data()), n, D, w, lab, K, full, n_k,
                        mean_k, second);
    }
    return nb::make_tuple(n_k_array, mean_array, second_array);
}

nb::tuple py_log_prob_resp(Rows X, In<double, 2> means,
                           nb::ndarray<const double, nb::c_contig, nb::device::cpu> prec,
                           In<double, 1> log_norm, bool full) {
    const size_t n = X.shape(0), D = X.shape(1), K = means.shape(0);
    check(means.shape(1) == D, "means must have one column per feature");
    check(log_norm.shape(0) == K, "log_norm must have one value per component");
    check(prec.size() == (full ? K * D * D : K * D),
          "precision factors must have shape (K, D, D) (full) or (K, D) (diagonal)");
    const bool single = is_single(X, "X");
    double *log_prob, *log_resp;
    auto log_prob_array = new_array<double>({n}, log_prob);
    auto log_resp_array = new_array<double>({n, K}, log_resp);
    {
        nb::gil_scoped_release release;
        if (single)
            score_rows(active_kernels(), static_cast<const float*>(X.data()), n, D, K,
                       means.data(), prec.data(), full, log_norm.data(), log_prob, log_resp);
        else
            score_rows(active_kernels(), static_cast<const double*>(X.data()), n, D, K,
                       means.data(), prec.data(), full, log_norm.data(), log_prob, log_resp);
    }
    return nb::make_tuple(log_prob_array, log_resp_array);
}

Array<double> py_column_variances(Rows X) {
    const size_t n = X.shape(0), D = X.shape(1);
    const bool single = is_single(X, "X");
    double* out;
    auto out_array = new_array<double>({D}, out);
    {
        nb::gil_scoped_release release;
        if (single)
            column_variances(active_kernels(), static_cast<const float*>(X.data()), n, D, out);
        else
            column_variances(active_kernels(), static_cast<const double*>(X.data()), n, D, out);
    }
    return out_array;
}

Array<double> py_cumulative_sum(In<double, 1> values) {
    const size_t n = values.shape(0);
    double* out;
    auto out_array = new_array<double>({n}, out);
    {
        nb::gil_scoped_release release;
        cumulative_sum(values.data(), n, out);
    }
    return out_array;
}

nb::tuple py_agglomerate(In<double, 2> Z, In<double, 1> weight, bool vvv, double alpha,
                         double beta, double tie_rtol) {
    const size_t m = Z.shape(0), p = Z.shape(1);
    check(weight.shape(0) == m, "sample_weight must have one value per row");
    const size_t n_merges = m > 0 ? m - 1 : 0;
    int64_t* merges;
    double* costs;
    auto merges_array = new_array<int64_t>({n_merges, 2}, merges);
    auto costs_array = new_array<double>({n_merges}, costs);
    {
        nb::gil_scoped_release release;
        agglomerate(Z.data(), m, p, weight.data(), vvv, alpha, beta, tie_rtol, merges, costs);
    }
    return nb::make_tuple(merges_array, costs_array);
}

// Test hooks: the building blocks of the E-step on their own.

void py_transpose_rows(Rows X, int64_t start, int64_t n_rows, nb::ndarray<nb::ndim<2>,
                       nb::c_contig, nb::device::cpu> Xt) {
    const int64_t D = int64_t(X.shape(1));
    check(start >= 0 && n_rows >= 0 && start + n_rows <= int64_t(X.shape(0)),
          "rows out of range");
    check(int64_t(Xt.shape(0)) == D && int64_t(Xt.shape(1)) >= n_rows,
          "Xt must have shape (n_features, at least n_rows)");
    const bool single = is_single(X, "X");
    const bool target_single = is_single(Xt, "Xt");
    const int64_t ld = int64_t(Xt.shape(1));
    const Kernels& k = active_kernels();
    void* out = Xt.data();
    if (single && target_single)
        k.transpose_f_f(static_cast<const float*>(X.data()), D, start, n_rows,
                        static_cast<float*>(out), ld);
    else if (single)
        k.transpose_f_d(static_cast<const float*>(X.data()), D, start, n_rows,
                        static_cast<double*>(out), ld);
    else if (target_single)
        k.transpose_d_f(static_cast<const double*>(X.data()), D, start, n_rows,
                        static_cast<float*>(out), ld);
    else
        k.transpose_d_d(static_cast<const double*>(X.data()), D, start, n_rows,
                        static_cast<double*>(out), ld);
}

void py_exp_shifted(In<double, 2> log_prob, In<double, 1> row_max, Out<double, 2> prob,
                    Out<double, 1> total) {
    const size_t K = log_prob.shape(0), m = log_prob.shape(1);
    check(row_max.shape(0) == m && prob.shape(0) == K && prob.shape(1) == m &&
              total.shape(0) == m,
          "shapes: log_prob and prob (K, m), row_max and total (m,)");
    active_kernels().exp_shifted(log_prob.data(), row_max.data(), K, m, m, prob.data(),
                                 total.data());
}

void py_exp_shifted_single(Rows log_prob,
                           nb::ndarray<nb::ro, nb::ndim<1>, nb::c_contig, nb::device::cpu> row_max,
                           Out<float, 2> prob, Out<float, 1> total) {
    const size_t K = log_prob.shape(0), m = log_prob.shape(1);
    check(row_max.shape(0) == m && prob.shape(0) == K && prob.shape(1) == m &&
              total.shape(0) == m,
          "shapes: log_prob and prob (K, m), row_max and total (m,)");
    check(log_prob.dtype() == row_max.dtype(), "log_prob and row_max must share a dtype");
    if (is_single(log_prob, "log_prob"))
        active_kernels().exp_shifted_single_f(static_cast<const float*>(log_prob.data()),
                                              static_cast<const float*>(row_max.data()), K, m,
                                              m, prob.data(), total.data());
    else
        active_kernels().exp_shifted_single_d(static_cast<const double*>(log_prob.data()),
                                              static_cast<const double*>(row_max.data()), K, m,
                                              m, prob.data(), total.data());
}

double py_sum_of_logs(In<double, 1> total) {
    return active_kernels().sum_of_logs(total.data(), int64_t(total.shape(0)));
}

}  // namespace
}  // namespace gaussmix

NB_MODULE(_gaussmix, m) {
    using namespace gaussmix;
    m.doc() = "gaussmix's compiled kernels (see gaussmix.kernels._compiled).";
    use_tracemalloc();

    nb::class_<PyEstepPass>(m, "EstepPass")
        .def(nb::init<Rows, std::optional<In<double, 1>>, In<double, 2>,
                      nb::ndarray<const double, nb::c_contig, nb::device::cpu>, In<double, 1>,
                      bool, bool, double, int64_t>(),
             "X"_a.noconvert(), "weight"_a.none(), "means"_a, "prec"_a, "log_norm"_a, "full"_a,
             "full_scatter"_a, "background"_a, "task_rows"_a)
        .def("run", &PyEstepPass::run)
        .def("wait", &PyEstepPass::wait, "max_spins"_a)
        .def("result", &PyEstepPass::result)
        .def_prop_ro("task_rows", &PyEstepPass::task_rows)
        .def_prop_ro("n_tasks", &PyEstepPass::n_tasks)
        .def_prop_ro("target", &PyEstepPass::target);

    m.def("lloyd_step", &py_lloyd_step, "X"_a.noconvert(), "weight"_a.none(), "centers"_a);
    m.def("candidate_distances", &py_candidate_distances, "X"_a.noconvert(), "weight"_a.none(),
          "closest"_a, "candidates"_a);
    m.def("label_stats", &py_label_stats, "X"_a.noconvert(), "weight"_a.none(), "labels"_a,
          "n_components"_a, "full"_a);
    m.def("column_variances", &py_column_variances, "X"_a.noconvert());
    m.def("log_prob_resp", &py_log_prob_resp, "X"_a.noconvert(), "means"_a, "prec"_a,
          "log_norm"_a, "full"_a);
    m.def("cumulative_sum", &py_cumulative_sum, "values"_a);

    m.def("agglomerate", &py_agglomerate, "Z"_a, "sample_weight"_a, "vvv"_a, "alpha"_a,
          "beta"_a, "tie_rtol"_a);

    m.def("transpose_rows", &py_transpose_rows, "X"_a.noconvert(), "start"_a, "n_rows"_a,
          "Xt"_a.noconvert());
    m.def("exp_shifted", &py_exp_shifted, "log_prob"_a.noconvert(), "row_max"_a.noconvert(),
          "prob"_a.noconvert(), "total"_a.noconvert());
    m.def("exp_shifted_single", &py_exp_shifted_single, "log_prob"_a.noconvert(),
          "row_max"_a.noconvert(), "prob"_a.noconvert(), "total"_a.noconvert());
    m.def("sum_of_logs", &py_sum_of_logs, "total"_a.noconvert());

    m.def("num_threads_setting", &gaussmix_get_num_threads,
          "The cap of gaussmix.set_num_threads, or 0 when none is set.");
    m.def("set_num_threads_setting", &gaussmix_set_num_threads, "n_threads"_a,
          "Set the cap (0: none); returns the previous one.");
    m.def("simd_targets", &supported_targets,
          "Compiled SIMD targets this CPU runs, best first.");
    m.def("simd_target", [] { return std::string(active_kernels().name); },
          "The SIMD target in use.");
    m.def("set_simd_target", &select_target, "name"_a,
          "Use SIMD target ``name`` for passes set up from now on; whether it is supported.");
}
