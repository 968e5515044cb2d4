// A linear probe of ELMo on SST-5, CPU preset: the mean of ELMo's vectors over the sentence, then
// one linear layer (AllenNLP's basic_classifier with a "boe" encoder). The probe adds no context of
// its own, so whatever the sentence's context contributes comes through ELMo's LSTM (with
// ELMO_MIX=lstm_only, the char CNN too). USE_ELMO=false: the mean of trainable 50-d word embeddings.
// NUM_EPOCHS epochs on MAX_TRAIN_INSTANCES sentences (0 = all); compressed as METHOD / TARGET / RANK say.
local lib = import "../lib/lstmfact.libsonnet";
local elmo = lib.elmo("small");
local word_dim = 50;

(import "sst5.libsonnet")(std.parseInt(std.extVar("MAX_TRAIN_INSTANCES")), elmo_characters=elmo.used) + {
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  model: {
    type: "basic_classifier",
    // With ELMo the word ids are read but not embedded ("empty"): basic_classifier reports them.
    text_field_embedder: { token_embedders: if elmo.used then {
      tokens: { type: "empty" },
      elmo: lib.elmo_token_embedder(elmo.options_file, elmo.weight_file, { do_layer_norm: false, dropout: 0.0 } + elmo.mix),
    } else {
      tokens: { type: "embedding", embedding_dim: word_dim },
    } },
    seq2vec_encoder: { type: "boe", embedding_dim: if elmo.used then elmo.dim else word_dim, averaged: true },
  },
  data_loader: { batch_sampler: { type: "bucket", batch_size: 32 } },
  trainer: {
    num_epochs: std.parseInt(std.extVar("NUM_EPOCHS")),
    patience: 5,
    validation_metric: "+accuracy",
    optimizer: { type: "adam", lr: 0.003 },
  },
}
