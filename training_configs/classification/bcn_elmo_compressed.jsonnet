// BCN + ELMo on SST-5 with ELMo compressed as METHOD / TARGET / RANK / LAYERS / SEED say, e.g.
//   METHOD=svd TARGET=W_h RANK=10 allennlp train training_configs/classification/bcn_elmo_compressed.jsonnet -s out
local lib = import "../lib/lstmfact.libsonnet";
(import "bcn_elmo.libsonnet")(if lib.compression != null then lib.compression else error "set METHOD (svd, semi_nmf, prune)")
