// BCN + ELMo on SST-5 (McCann et al. 2017; Peters et al. 2018), CPU-sized for a demo and for
// tests: the model and reader of allennlp-models' biattentive_classification_network_elmo, with
// small dimensions, no GloVe (a trainable 50-d embedding), 3 epochs (NUM_EPOCHS, MAX_TRAIN_INSTANCES).
// Expected score: far below the paper's 54.5 (full BCN + official ELMo + GloVe); this preset
// checks the pipeline, it does not reproduce the table.
// ELMo: LSTMFACT_DATA/elmo/tiny_fixture (AllenNLP's tiny test biLM) when LSTMFACT_DATA is set,
// else the public small ELMo (2x1024_128_2048cnn_1xhighway); ELMO_OPTIONS/ELMO_WEIGHTS override.
// Compression: METHOD, TARGET, RANK, LAYERS, SEED (see ../lib/lstmfact.libsonnet).
local lib = import "../lib/lstmfact.libsonnet";
local small_elmo = "https://allennlp.s3.amazonaws.com/models/elmo/2x1024_128_2048cnn_1xhighway/elmo_2x1024_128_2048cnn_1xhighway";
local elmo_options = lib.elmo_options(lib.data("elmo/tiny_fixture/options.json", small_elmo + "_options.json"));
local elmo_weights = lib.elmo_weights(lib.data("elmo/tiny_fixture/lm_weights.hdf5", small_elmo + "_weights.hdf5"));
// ELMo's output size, 2 x projection_dim: 32 for the tiny biLM, 256 for the small public ELMo.
local elmo_dim = if std.extVar("ELMO_DIM") != "" then std.parseInt(std.extVar("ELMO_DIM"))
                 else if std.extVar("LSTMFACT_DATA") != "" then 32 else 256;
local max_train = std.parseInt(std.extVar("MAX_TRAIN_INSTANCES"));

local reader(max_instances) = {
  type: "sst_tokens",
  granularity: "5-class",
  [if max_instances > 0 then "max_instances"]: max_instances,
  token_indexers: {
    tokens: { type: "single_id", lowercase_tokens: true },
    elmo: { type: "elmo_characters" },
  },
};

{
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  dataset_reader: reader(max_train),
  validation_dataset_reader: reader(0),
  train_data_path: lib.data("sst/train.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/train.txt"),
  validation_data_path: lib.data("sst/dev.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/dev.txt"),
  test_data_path: lib.data("sst/test.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/test.txt"),
  evaluate_on_test: false,
  model: lib.with_compressed_elmo({
    type: "bcn",
    text_field_embedder: { token_embedders: { tokens: { type: "embedding", embedding_dim: 50 } } },
    embedding_dropout: 0.25,
    pre_encode_feedforward: { input_dim: 50 + elmo_dim, num_layers: 1, hidden_dims: [64], activations: ["relu"], dropout: [0.25] },
    encoder: { type: "lstm", input_size: 64, hidden_size: 64, num_layers: 1, bidirectional: true },
    integrator: { type: "lstm", input_size: 3 * 128, hidden_size: 64, num_layers: 1, bidirectional: true },
    integrator_dropout: 0.1,
    elmo: { options_file: elmo_options, weight_file: elmo_weights, do_layer_norm: false, dropout: 0.0, num_output_representations: 1 },
    use_input_elmo: true,
    use_integrator_output_elmo: false,
    output_layer: { input_dim: 4 * 128, num_layers: 2, output_dims: [64, 5], pool_sizes: 4, dropout: [0.2, 0.0] },
  }),
  data_loader: { batch_sampler: { type: "bucket", batch_size: 32 } },
  trainer: {
    num_epochs: std.parseInt(std.extVar("NUM_EPOCHS")),
    patience: 5,
    grad_norm: 5.0,
    validation_metric: "+accuracy",
    optimizer: { type: "adam", lr: 0.001 },
  },
}
