// ESIM + ELMo on SNLI (Chen et al. 2017; Peters et al. 2018), as allennlp-models'
// pair_classification/esim_elmo.jsonnet. Expected test accuracy with the official ELMo: 88.7
// (Peters et al.); Winata et al. 2019 reports 88.5 (Table 3).
// Data: the public SNLI train/dev/test; with LSTMFACT_DATA (no SNLI train there) it trains on dev
// and validates and tests on test - say so with any number it gives.
//   compression: an ELMo compression block or null;  small: the CPU preset.
local lib = import "../lib/lstmfact.libsonnet";
local snli = "https://allennlp.s3.amazonaws.com/datasets/snli/snli_1.0_";

function(compression, small=false)
  local elmo = lib.elmo(if small then "small" else "official");
  local hidden = if small then 64 else 300;
  // Without ELMo (USE_ELMO=false): word embeddings, trainable 50-d (small) or GloVe 300-d (as allennlp-models' esim.jsonnet).
  local word_dim = if small then 50 else 300;
  local max_train = if small then std.parseInt(std.extVar("MAX_TRAIN_INSTANCES")) else 0;
  local reader(max_instances) = {
    type: "snli",
    tokenizer: lib.tokenizer,
    [if max_instances > 0 then "max_instances"]: max_instances,
    token_indexers: if elmo.used then { elmo: { type: "elmo_characters" } }
                    else { tokens: { type: "single_id", lowercase_tokens: true } },
  };
  {
    random_seed: lib.seed,
    numpy_seed: lib.seed,
    pytorch_seed: lib.seed,
    dataset_reader: reader(max_train),
    validation_dataset_reader: reader(0),
    train_data_path: lib.data("snli/snli_1.0_dev.labeled_pairs.jsonl", snli + "train.jsonl"),
    validation_data_path: lib.data("snli/snli_1.0_test.labeled_pairs.jsonl", snli + "dev.jsonl"),
    test_data_path: lib.data("snli/snli_1.0_test.labeled_pairs.jsonl", snli + "test.jsonl"),
    evaluate_on_test: true,
    model: {
      type: "esim",
      dropout: 0.5,
      text_field_embedder: { token_embedders: if elmo.used then {
        elmo: lib.elmo_token_embedder(elmo.options_file, elmo.weight_file, { do_layer_norm: false, dropout: 0.0 } + elmo.mix,
                                      compression),
      } else {
        tokens: { type: "embedding", embedding_dim: word_dim } + (if small then {} else {
          pretrained_file: "https://allennlp.s3.amazonaws.com/datasets/glove/glove.840B.300d.txt.gz",
          trainable: true,
        }),
      } },
      encoder: { type: "lstm", input_size: if elmo.used then elmo.dim else word_dim, hidden_size: hidden,
                 num_layers: 1, bidirectional: true },
      matrix_attention: { type: "dot_product" },
      projection_feedforward: { input_dim: 8 * hidden, hidden_dims: hidden, num_layers: 1, activations: "relu" },
      inference_encoder: { type: "lstm", input_size: hidden, hidden_size: hidden, num_layers: 1, bidirectional: true },
      output_feedforward: { input_dim: 8 * hidden, num_layers: 1, hidden_dims: hidden, activations: "relu", dropout: 0.5 },
      output_logit: { input_dim: hidden, num_layers: 1, hidden_dims: 3, activations: "linear" },
      initializer: { regexes: [
        [".*linear_layers.*weight", { type: "xavier_uniform" }],
        [".*linear_layers.*bias", { type: "zero" }],
        [".*weight_ih.*", { type: "xavier_uniform" }],
        [".*weight_hh.*", { type: "orthogonal" }],
        [".*bias_ih.*", { type: "zero" }],
        [".*bias_hh.*", { type: "lstm_hidden_bias" }],
      ] },
    },
    data_loader: { batch_sampler: { type: "bucket", batch_size: 32 } },
    trainer: {
      optimizer: { type: "adam", lr: 0.0004 },
      validation_metric: "+accuracy",
      num_epochs: if small then std.parseInt(std.extVar("NUM_EPOCHS")) else 75,
      grad_norm: 10.0,
      patience: 5,
      learning_rate_scheduler: { type: "reduce_on_plateau", factor: 0.5, mode: "max", patience: 0 },
    },
  }
