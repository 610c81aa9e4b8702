# Writes mclust_hc.json, the reference for tests/test_hc.py: mclust's hierarchical
# clustering (hc, hclass) and BIC on iris and on two data sets made here.
# Run with mclust 6.0.0: Rscript mclust_hc.R > mclust_hc.json
suppressMessages(library(mclust))

num <- function(x) paste0("[", paste(sprintf("%.17g", x), collapse = ", "), "]")
int <- function(x) paste0("[", paste(as.integer(x), collapse = ", "), "]")
rows <- function(m) paste0("[", paste(apply(m, 1, num), collapse = ", "), "]")
pairs <- function(h) paste0("[", paste(apply(t(h), 1, int), collapse = ", "), "]")
tree <- function(X, model, use) pairs(hc(X, modelName = model, use = use))

iris4 <- as.matrix(iris[, 1:4])

# Duplicated integer rows: many merges cost exactly the same, so the order in
# which mclust breaks ties decides the tree.
set.seed(1)
points <- matrix(round(rnorm(8 * 3) * 3), 8, 3)
ties <- points[c(1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 5, 5, 6, 7, 7, 8, 2, 6), ]

# Three correlated Gaussian clusters in 3-D.
set.seed(2)
n <- 300
g <- sample(1:3, n, replace = TRUE)
centres <- matrix(c(0, 0, 0, 4, 1, -1, -2, 5, 2), 3, 3, byrow = TRUE)
blobs <- centres[g, ] + matrix(rnorm(n * 3), n, 3) %*% matrix(c(1, .6, 0, 0, 1, .3, 0, 0, .7), 3, 3)

bic_vvv <- function(G) Mclust(iris4, G = G, modelNames = "VVV")$bic
cat("{\n")
cat('"mclust_version": "', as.character(packageVersion("mclust")), '",\n', sep = "")
cat('"iris_svd_data": ', rows(attr(hc(iris4, use = "SVD"), "data")), ",\n", sep = "")
cat('"iris_VVV_SVD": ', tree(iris4, "VVV", "SVD"), ",\n", sep = "")
cat('"iris_VVV_VARS": ', tree(iris4, "VVV", "VARS"), ",\n", sep = "")
cat('"iris_EII_SVD": ', tree(iris4, "EII", "SVD"), ",\n", sep = "")
cat('"iris_VVV_bic": {"2": ', sprintf("%.17g", bic_vvv(2)), ', "3": ', sprintf("%.17g", bic_vvv(3)), "},\n", sep = "")
cat('"ties_data": ', rows(ties), ",\n", sep = "")
cat('"ties_VVV_VARS": ', tree(ties, "VVV", "VARS"), ",\n", sep = "")
cat('"ties_EII_VARS": ', tree(ties, "EII", "VARS"), ",\n", sep = "")
cat('"blobs_data": ', rows(blobs), ",\n", sep = "")
cat('"blobs_VVV_SVD": ', tree(blobs, "VVV", "SVD"), "\n", sep = "")
cat("}\n")
