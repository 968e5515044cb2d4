// BiDAF + ELMo on SQuAD 1.1 with ELMo compressed as METHOD / TARGET / RANK / LAYERS / SEED say, e.g.
//   METHOD=svd TARGET=W_h RANK=10 allennlp train training_configs/rc/bidaf_elmo_compressed.jsonnet -s out
local lib = import "../lib/lstmfact.libsonnet";
(import "bidaf_elmo.libsonnet")(if lib.compression != null then lib.compression else error "set METHOD (svd, semi_nmf, prune)")
