// Fine-tune the archive in ARCHIVE (e.g. written by `allennlp compress`) with the CPU preset of
// ESIM + ELMo on SNLI (Winata et al. 2019's "w/ fine-tuning" setting).
local lib = import "../lib/lstmfact.libsonnet";
lib.finetune((import "esim_elmo.libsonnet")(null, small=true))
