// Winata et al. 2019, Table 3 cell: bcn_elmo, semi_nmf on ELMo W_i, rank 400.
local lib = import "../lib/lstmfact.libsonnet";
(import "../classification/bcn_elmo.libsonnet")(lib.compress("semi_nmf", "W_i", 400))
