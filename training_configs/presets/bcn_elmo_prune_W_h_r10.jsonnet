// Winata et al. 2019, Table 3 cell: bcn_elmo, prune on ELMo W_h, rank 10.
local lib = import "../lib/lstmfact.libsonnet";
(import "../classification/bcn_elmo.libsonnet")(lib.compress("prune", "W_h", 10))
