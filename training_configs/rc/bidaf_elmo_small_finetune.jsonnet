// Fine-tune the archive in ARCHIVE (e.g. written by `allennlp compress`) with the CPU preset of
// BiDAF + ELMo on SQuAD 1.1 (Winata et al. 2019's "w/ fine-tuning" setting).
local lib = import "../lib/lstmfact.libsonnet";
lib.finetune((import "bidaf_elmo.libsonnet")(null, small=true))
