// BCN + ELMo on SST-5, uncompressed baseline (see bcn_elmo.libsonnet).
(import "bcn_elmo.libsonnet")(null)
