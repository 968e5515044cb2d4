// BCN + ELMo on SST-5 (McCann et al. 2017; Peters et al. 2018), as allennlp-models'
// classification/biattentive_classification_network_elmo.jsonnet. Expected test accuracy with the
// official ELMo and GloVe: 54.7 (Peters et al.); Winata et al. 2019 reports 54.5 (Table 3).
//   compression: an ELMo compression block or null;  small: the CPU preset (trainable 50-d
//   embeddings instead of GloVe, small dims, NUM_EPOCHS epochs, MAX_TRAIN_INSTANCES sentences).
local lib = import "../lib/lstmfact.libsonnet";

function(compression, small=false)
  local elmo = lib.elmo(if small then "small" else "official");
  local word_dim = if small then 50 else 300;
  local hidden = if small then 64 else 300;
  local max_train = if small then std.parseInt(std.extVar("MAX_TRAIN_INSTANCES")) else 0;
  (import "sst5.libsonnet")(max_train, elmo_characters=elmo.used) + {
    random_seed: lib.seed,
    numpy_seed: lib.seed,
    pytorch_seed: lib.seed,
    model: lib.with_compressed_elmo({
      type: "bcn",
      text_field_embedder: { token_embedders: { tokens: {
        type: "embedding",
        embedding_dim: word_dim,
      } + (if small then {} else {
        pretrained_file: "https://allennlp.s3.amazonaws.com/datasets/glove/glove.840B.300d.txt.gz",
        trainable: false,
      }) } },
      embedding_dropout: if small then 0.25 else 0.5,
      pre_encode_feedforward: { input_dim: word_dim + elmo.dim, num_layers: 1, hidden_dims: [hidden],
                                activations: ["relu"], dropout: [0.25] },
      encoder: { type: "lstm", input_size: hidden, hidden_size: hidden, num_layers: 1, bidirectional: true },
      integrator: { type: "lstm", input_size: 6 * hidden, hidden_size: hidden, num_layers: 1, bidirectional: true },
      integrator_dropout: 0.1,
      [if elmo.used then "elmo"]: { options_file: elmo.options_file, weight_file: elmo.weight_file,
                                    do_layer_norm: false, dropout: 0.0, num_output_representations: 1 } + elmo.mix,
      use_input_elmo: elmo.used,
      use_integrator_output_elmo: false,
      output_layer: if small then { input_dim: 8 * hidden, num_layers: 2, output_dims: [hidden, 5], pool_sizes: 4,
                                    dropout: [0.2, 0.0] }
                    else { input_dim: 8 * hidden, num_layers: 3, output_dims: [1200, 600, 5], pool_sizes: 4,
                           dropout: [0.2, 0.3, 0.0] },
    }, compression),
    data_loader: { batch_sampler: { type: "bucket", batch_size: if small then 32 else 100 } },
    trainer: {
      num_epochs: if small then std.parseInt(std.extVar("NUM_EPOCHS")) else 20,
      patience: 5,
      grad_norm: 5.0,
      validation_metric: "+accuracy",
      optimizer: { type: "adam", lr: 0.001 },
    },
  }
