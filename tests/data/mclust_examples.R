# Writes mclust_examples.json, the reference for tests/test_mclust_examples.py:
# on six of mclust's own example data sets, mclust's BIC table (all models, G = 1..9,
# mclustBIC's defaults: hc start with use = "SVD", or quantile classes for one
# feature) and its chosen model; its starting partitions (the hcPairs of
# hc(use = "SVD"), with the cost of every merge, which hc() computes but does not
# return; qclass for one feature).
#   thyroid   215 x 5, Diagnosis dropped
#   acidity   155 x 1
#   banknote  200 x 6, Status dropped
#   wreath   1000 x 2
#   chevron  1104 x 2, class dropped
#   gvhd     1000 x 4, a random subset (set.seed(1)) of the 9083 rows of GvHD.pos,
#            so that no 2000-row subset is drawn (mclust's and gaussmix's draws differ)
# Run with mclust 6.0.0: Rscript mclust_examples.R > mclust_examples.json
suppressMessages(library(mclust))
data(thyroid)
data(acidity)
data(banknote)
data(wreath)
data(chevron)
data(GvHD)

num <- function(x) paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", x)), collapse = ", "), "]")
int <- function(x) paste0("[", paste(as.integer(x), collapse = ", "), "]")
rows <- function(m) paste0("[", paste(apply(m, 1, num), collapse = ", "), "]")
str <- function(x) paste0("[", paste0('"', x, '"', collapse = ", "), "]")

# hcVVV's own call of mclust's Fortran, keeping the merge costs it drops.
hc_costs <- function(X) {
  tree <- hc(X, modelName = "VVV", use = "SVD")
  Z <- attr(tree, "data")
  n <- nrow(Z)
  p <- ncol(Z)
  m <- n - 1
  ld <- max(n, (n * (n - 1)) / 2 + 1, 3 * m)
  alpha <- max(mclust:::traceW(Z / sqrt(n * p)), .Machine$double.eps)
  out <- .Fortran("hcvvv", cbind(Z, 0), as.integer(n), as.integer(p), as.integer(1:n),
                  as.integer(n), as.integer(m), as.double(alpha), as.double(1), double(p),
                  double(p * p), double(p * p), double(p * p), as.integer(ld), double(ld),
                  PACKAGE = "mclust")
  stopifnot(all(t(out[[1]][1:m, 1:2]) == unclass(tree)[, ]))
  list(pairs = unclass(tree)[, ], costs = out[[14]][1:m])
}

set.seed(1)
gvhd <- as.matrix(GvHD.pos)[sort(sample(nrow(GvHD.pos), 1000)), ]
sets <- list(
  thyroid = as.matrix(thyroid[, -1]),
  acidity = as.numeric(acidity),
  banknote = as.matrix(banknote[, -1]),
  wreath = as.matrix(wreath),
  chevron = as.matrix(chevron[, -1]),
  gvhd = gvhd
)
cat("{\n")
cat('"mclust_version": "', as.character(packageVersion("mclust")), '",\n', sep = "")
first <- TRUE
for (name in names(sets)) {
  X <- sets[[name]]
  bic <- mclustBIC(X, verbose = FALSE)
  fit <- Mclust(X, x = bic, verbose = FALSE)
  if (!first) cat(",\n")
  first <- FALSE
  cat('"', name, '": {\n', sep = "")
  cat('  "data": ', rows(as.matrix(X)), ",\n", sep = "")
  cat('  "models": ', str(colnames(bic)), ",\n", sep = "")
  cat('  "G": ', num(as.numeric(rownames(bic))), ",\n", sep = "")
  cat('  "bic": ', rows(bic[, , drop = FALSE]), ",\n", sep = "")
  if (is.null(dim(X))) {
    classes <- sapply(1:9, function(k) mclust:::qclass(X, k))
    cat('  "qclass": ', paste0("[", paste(apply(t(classes), 1, int), collapse = ", "), "]"), ",\n", sep = "")
  } else {
    tree <- hc_costs(X)
    cat('  "hc_pairs": ', paste0("[", paste(apply(t(tree$pairs), 1, int), collapse = ", "), "]"), ",\n", sep = "")
    cat('  "hc_costs": ', num(tree$costs), ",\n", sep = "")
  }
  cat('  "best_model": "', fit$modelName, '",\n', sep = "")
  cat('  "best_G": ', fit$G, ",\n", sep = "")
  cat('  "best_bic": ', sprintf("%.17g", fit$bic), "\n", sep = "")
  cat("}")
}
cat("\n}\n")
