// Winata et al. 2019, Table 3 cell: esim_elmo, svd on ELMo W_i, rank 10.
local lib = import "../lib/lstmfact.libsonnet";
(import "../pair_classification/esim_elmo.libsonnet")(lib.compress("svd", "W_i", 10))
