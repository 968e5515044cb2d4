// Winata et al. 2019, Table 3 cell: bidaf_elmo, svd on ELMo W_i, rank 400.
local lib = import "../lib/lstmfact.libsonnet";
(import "../rc/bidaf_elmo.libsonnet")(lib.compress("svd", "W_i", 400))
