// Winata et al. 2019, Table 3 cell: esim_elmo, prune on ELMo W_h, rank 400.
local lib = import "../lib/lstmfact.libsonnet";
(import "../pair_classification/esim_elmo.libsonnet")(lib.compress("prune", "W_h", 400))
