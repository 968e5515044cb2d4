// AWD-LSTM on WikiText-2, CPU preset (see small.libsonnet).
// WikiText-2's training split is not available on the project's machines, so this preset TRAINS
// ON wiki.valid.tokens (217,646 tokens) and validates and tests on wiki.test.tokens: its
// perplexity is not comparable with published WikiText-2 numbers (less training data, no
// separate test split, and the vocabulary is wiki.valid's 13,777 words: test words outside it
// read as <unk>, 11.0% of the test tokens against 5.4% <unk> in wiki.valid).
// With the real files, use awd_lstm_wt2.jsonnet.
local corpora = import "corpora.libsonnet";
local wt2 = corpora.wikitext2;

(import "small.libsonnet")(wt2 { train: wt2.validation, validation: wt2.test })
