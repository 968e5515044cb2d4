// AWD-LSTM on Penn Treebank (Merity, Keskar & Socher 2018), the released code's PTB setting
// (salesforce/awd-lstm-lm README: `main.py --batch_size 20 --data data/penn --dropouti 0.4
// --dropouth 0.25 --seed 141 --epoch 500`, other flags at their defaults: 3 layers, embedding 400,
// hidden 1150, bptt 70, SGD lr 30, clip 0.25, weight decay 1.2e-6, dropout 0.4, dropoute 0.1,
// wdrop 0.5, alpha 2, beta 1, NT-ASGD with nonmono 5). 24M parameters.
// Expected (paper, Table 1, without the extra fine-tuning stage): validation 60.7, test 58.8
// perplexity; Winata et al. 2019 reproduced 58.3. Needs a GPU (days on CPU).
// Test perplexity by the standard protocol: allennlp evaluate <archive> <ptb.test.txt> --batch-size 1
// Compress from scratch with METHOD/TARGET/RANK/LAYERS; compress a trained archive and fine-tune
// with awd_lstm_ptb_small_finetune.jsonnet's recipe.
local corpora = import "corpora.libsonnet";
local awd_lstm = import "awd_lstm.libsonnet";

awd_lstm(corpora.ptb, batch_size=20, model={
  embedding_dim: 400,
  hidden_size: 1150,
  num_layers: 3,
  output_dropout: 0.4,
  layer_dropout: 0.25,
  input_dropout: 0.4,
  embedding_dropout: 0.1,
  weight_dropout: 0.5,
})
