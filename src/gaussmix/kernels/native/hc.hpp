// Agglomeration for model-based hierarchical clustering (hc.cpp).
#pragma once

#include <stdint.h>

namespace gaussmix {

// Merge the rows of Z (n_rows x n_features, C order) into one group, cheapest merge
// first: mclust's VVV criterion (``vvv``) or EII's (Ward's). merges (n_rows - 1 x 2)
// receives the smallest row indices of the groups each merge joins, costs
// (n_rows - 1) the increase of the criterion. Merges whose costs exceed the cheapest
// by at most tie_rtol times its magnitude are tied, and go to mclust's rule.
void agglomerate(const double* Z, int64_t n_rows, int64_t n_features,
                 const double* sample_weight, bool vvv, double alpha, double beta,
                 double tie_rtol, int64_t* merges, double* costs);

}  // namespace gaussmix
