// ESIM + ELMo on SNLI, uncompressed baseline (see esim_elmo.libsonnet).
(import "esim_elmo.libsonnet")(null)
