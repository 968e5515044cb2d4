// AWD-LSTM on Penn Treebank, CPU preset (see small.libsonnet): 2 layers, embedding 200,
// hidden 400, Adam, NUM_EPOCHS epochs (3 epochs: about 40 minutes on one thread).
// Expected: test perplexity around 140 after 3 epochs (far from the full model's 58.8; this preset
// makes a real model to compress on a CPU, it does not reproduce the paper).
// Test perplexity: allennlp evaluate <archive> <ptb.test.txt> --batch-size 1
local corpora = import "corpora.libsonnet";

(import "small.libsonnet")(corpora.ptb)
