// AWD-LSTM on WikiText-2 (Merity, Keskar & Socher 2018), the released code's WT2 setting
// (salesforce/awd-lstm-lm README: `main.py --epochs 750 --data data/wikitext-2 --dropouth 0.2
// --seed 1882`, other flags at their defaults: batch 80, bptt 70, 3 layers, embedding 400,
// hidden 1150, SGD lr 30, clip 0.25, weight decay 1.2e-6, dropout 0.4, dropouti 0.65, dropoute 0.1,
// wdrop 0.5, alpha 2, beta 1, NT-ASGD with nonmono 5). 33M parameters.
// Expected (paper, Table 2, without the extra fine-tuning stage): validation 69.1, test 66.0
// perplexity; Winata et al. 2019 reproduced 65.67. Needs a GPU and wiki.train.tokens (not available on the
// project's machines: see awd_lstm_wt2_small.jsonnet).
local corpora = import "corpora.libsonnet";
local awd_lstm = import "awd_lstm.libsonnet";

awd_lstm(corpora.wikitext2, batch_size=80, num_epochs=750, model={
  embedding_dim: 400,
  hidden_size: 1150,
  num_layers: 3,
  output_dropout: 0.4,
  layer_dropout: 0.2,
  input_dropout: 0.65,
  embedding_dropout: 0.1,
  weight_dropout: 0.5,
})
