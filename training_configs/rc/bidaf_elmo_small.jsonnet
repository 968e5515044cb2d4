// BiDAF + ELMo on SQuAD 1.1, CPU preset: small dims, no GloVe, NUM_EPOCHS epochs on MAX_TRAIN_INSTANCES
// instances (0 = all); compressed as METHOD / TARGET / RANK say (METHOD=none: uncompressed).
local lib = import "../lib/lstmfact.libsonnet";
(import "bidaf_elmo.libsonnet")(lib.compression, small=true)
