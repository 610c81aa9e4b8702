# Writes mclust_bic.json, the reference for tests/test_mclust_published.py:
# mclust's BIC table (all 14 models, G = 1..9, default hc start and tolerances) and
# its chosen model on three data sets used in mclust's documentation: iris (the 4
# measurements), diabetes (mclust's vignette) and faithful (R's datasets).
# Run with mclust 6.0.0: Rscript mclust_bic.R > mclust_bic.json
suppressMessages(library(mclust))
data(diabetes)

num <- function(x) paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", x)), collapse = ", "), "]")
rows <- function(m) paste0("[", paste(apply(m, 1, num), collapse = ", "), "]")
str <- function(x) paste0("[", paste0('"', x, '"', collapse = ", "), "]")

sets <- list(
  iris = as.matrix(iris[, 1:4]),
  diabetes = as.matrix(diabetes[, -1]),
  faithful = as.matrix(faithful)
)
cat("{\n")
cat('"mclust_version": "', as.character(packageVersion("mclust")), '",\n', sep = "")
first <- TRUE
for (name in names(sets)) {
  X <- sets[[name]]
  bic <- mclustBIC(X)
  fit <- Mclust(X, x = bic)
  if (!first) cat(",\n")
  first <- FALSE
  cat('"', name, '": {\n', sep = "")
  cat('  "data": ', rows(X), ",\n", sep = "")
  cat('  "models": ', str(colnames(bic)), ",\n", sep = "")
  cat('  "G": ', num(as.numeric(rownames(bic))), ",\n", sep = "")
  cat('  "bic": ', rows(bic[, , drop = FALSE]), ",\n", sep = "")
  cat('  "best_model": "', fit$modelName, '",\n', sep = "")
  cat('  "best_G": ', fit$G, ",\n", sep = "")
  cat('  "best_bic": ', sprintf("%.17g", fit$bic), ",\n", sep = "")
  cat('  "best_loglik": ', sprintf("%.17g", fit$loglik), ",\n", sep = "")
  cat('  "best_icl": ', sprintf("%.17g", icl(fit)), "\n", sep = "")
  cat("}")
}
cat("\n}\n")
