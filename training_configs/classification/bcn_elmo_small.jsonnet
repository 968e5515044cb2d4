// BCN + ELMo on SST-5, CPU preset (demo, tests, runs on 2 cores): small dims, no GloVe, NUM_EPOCHS
// epochs (default 3) on MAX_TRAIN_INSTANCES sentences (default 0 = all 8,544). Compressed as
// METHOD / TARGET / RANK say (METHOD=none: uncompressed). ELMo: the tiny biLM of LSTMFACT_DATA or
// the public small ELMo, or ELMO_OPTIONS / ELMO_WEIGHTS / ELMO_DIM. Far below the paper's 54.5:
// this preset exercises the pipeline at CPU scale.
local lib = import "../lib/lstmfact.libsonnet";
(import "bcn_elmo.libsonnet")(lib.compression, small=true)
