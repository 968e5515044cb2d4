// Fine-tune the archive in ARCHIVE (e.g. written by `allennlp compress`) on SST-5 with the CPU
// preset's data and trainer (Winata et al. 2019's "w/ fine-tuning" setting).
local lib = import "../lib/lstmfact.libsonnet";
lib.finetune((import "bcn_elmo.libsonnet")(null, small=true))
