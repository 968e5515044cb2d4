// Winata et al. 2019, Table 3 cell: esim_elmo, semi_nmf on ELMo W_i, rank 10.
local lib = import "../lib/lstmfact.libsonnet";
(import "../pair_classification/esim_elmo.libsonnet")(lib.compress("semi_nmf", "W_i", 10))
