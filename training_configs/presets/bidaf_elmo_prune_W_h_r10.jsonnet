// Winata et al. 2019, Table 3 cell: bidaf_elmo, prune on ELMo W_h, rank 10.
local lib = import "../lib/lstmfact.libsonnet";
(import "../rc/bidaf_elmo.libsonnet")(lib.compress("prune", "W_h", 10))
