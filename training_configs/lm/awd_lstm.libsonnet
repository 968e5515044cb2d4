// AWD-LSTM language model (Merity, Keskar & Socher 2018) as an AllenNLP experiment.
// `awd_lstm(corpus, sizes)` returns a whole config; the .jsonnet files beside it pick the values.
// Environment (see ../lib/lstmfact.libsonnet): LSTMFACT_DATA, SEED, METHOD/TARGET/RANK/LAYERS
// (compress the LSTM from scratch; METHOD=none keeps it dense), NUM_EPOCHS (CPU presets only).
local lib = import "../lib/lstmfact.libsonnet";

// corpus: {reader, train, validation, test}; train/validation/test are data paths.
function(corpus, model, batch_size, sequence_length=70, validation_batch_size=10, optimizer={type: "sgd", lr: 30, weight_decay: 1.2e-6},
         nt_asgd=true, num_epochs=500, grad_norm=0.25, batches_per_epoch=null) {
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  dataset_reader: { type: corpus.reader },
  train_data_path: corpus.train,
  validation_data_path: corpus.validation,
  test_data_path: corpus.test,
  // The vocabulary is the training split's; any other word reads as the corpus's own <unk>.
  datasets_for_vocab_creation: ["train"],
  vocabulary: { oov_token: "<unk>" },
  model: {
    type: "awd_lstm_lm",
    [if lib.compression != null then "compression"]: lib.compression,
  } + model,
  data_loader: {
    type: "bptt_stream",
    batch_size: batch_size,
    sequence_length: sequence_length,
    variable_length: true,
    [if batches_per_epoch != null then "batches_per_epoch"]: batches_per_epoch,
  },
  // awd-lstm-lm's protocol: validation with 10 rows; for the test split use
  // `allennlp evaluate <archive> <test file> --batch-size 1`.
  validation_data_loader: {
    type: "bptt_stream",
    batch_size: validation_batch_size,
    sequence_length: sequence_length,
  },
  trainer: {
    num_epochs: num_epochs,
    grad_norm: grad_norm,
    validation_metric: "-perplexity",
    optimizer: optimizer,
    callbacks: [{ type: "bptt_lr_scaling" }] + (if nt_asgd then [{ type: "nt_asgd", non_monotone_interval: 5 }] else []),
    [if nt_asgd then "moving_average"]: { type: "triggered_uniform" },
    checkpointer: { keep_most_recent_by_count: 1 },
  },
}
