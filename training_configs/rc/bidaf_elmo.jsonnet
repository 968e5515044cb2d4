// BiDAF + ELMo on SQuAD 1.1, uncompressed baseline (see bidaf_elmo.libsonnet).
(import "bidaf_elmo.libsonnet")(null)
