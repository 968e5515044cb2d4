// AWD-LSTM on Penn Treebank, CPU preset (see small.libsonnet): 2 layers, embedding 200,
// hidden 400, Adam, NUM_EPOCHS epochs.
// Measured (docs/lm_ptb_compression.md): after 2 epochs (32 minutes on one thread of a shared
// 2-core machine) validation 154.8, test 150.25 perplexity. Far from the full model's 58.8: this
// preset makes a real model to compress on a CPU, it does not reproduce the paper.
// Test perplexity: allennlp evaluate <archive> <ptb.test.txt> --batch-size 1
local corpora = import "corpora.libsonnet";

(import "small.libsonnet")(corpora.ptb)
