// BiDAF + ELMo on SQuAD 1.1 (Seo et al. 2017; Peters et al. 2018), as allennlp-models'
// rc/bidaf_elmo.jsonnet. Expected dev F1 with the official ELMo: 85.6 (Peters et al.); Winata et al. 2019
// reports 81.75 (Table 3).
// Data: the public SQuAD train/dev; with LSTMFACT_DATA it trains on the 44-article train sample
// (11,877 questions) and validates on the full dev set - say so with any number it gives.
// Tokenizer: spaCy's blank English pipeline (offline), not en_core_web_sm.
//   compression: an ELMo compression block or null;  small: the CPU preset.
local lib = import "../lib/lstmfact.libsonnet";
local squad = "https://allennlp.s3.amazonaws.com/datasets/squad/squad-";

function(compression, small=false)
  local elmo = lib.elmo(if small then "small" else "official");
  local word_dim = if small then 50 else 100;
  local char_dim = if small then 20 else 100;
  local hidden = if small then 32 else 100;
  local max_train = if small then std.parseInt(std.extVar("MAX_TRAIN_INSTANCES")) else 0;
  local reader(max_instances) = {
    type: "squad",
    tokenizer: lib.tokenizer,
    [if max_instances > 0 then "max_instances"]: max_instances,
    token_indexers: {
      tokens: { type: "single_id", lowercase_tokens: true },
      token_characters: { type: "characters", min_padding_length: 5,
                          character_tokenizer: { byte_encoding: "utf-8", start_tokens: [259], end_tokens: [260] } },
    } + (if elmo.used then { elmo: { type: "elmo_characters" } } else {}),
  };
  {
    random_seed: lib.seed,
    numpy_seed: lib.seed,
    pytorch_seed: lib.seed,
    dataset_reader: reader(max_train),
    validation_dataset_reader: reader(if small then max_train else 0),
    train_data_path: lib.data("squad/train-v1.1.sample-44-articles.json", squad + "train-v1.1.json"),
    validation_data_path: lib.data("squad/dev-v1.1.json", squad + "dev-v1.1.json"),
    model: {
      type: "bidaf",
      text_field_embedder: { token_embedders: {
        tokens: { type: "embedding", embedding_dim: word_dim } + (if small then {} else {
          pretrained_file: "https://allennlp.s3.amazonaws.com/datasets/glove/glove.6B.100d.txt.gz",
          trainable: false,
        }),
        token_characters: {
          type: "character_encoding",
          embedding: { num_embeddings: 262, embedding_dim: 16 },
          encoder: { type: "cnn", embedding_dim: 16, num_filters: char_dim, ngram_filter_sizes: [5] },
          dropout: 0.2,
        },
        [if elmo.used then "elmo"]: lib.elmo_token_embedder(elmo.options_file, elmo.weight_file, { do_layer_norm: false, dropout: 0.0 } + elmo.mix,
                                      compression),
      } },
      num_highway_layers: 2,
      phrase_layer: { type: "lstm", bidirectional: true, input_size: word_dim + char_dim + elmo.dim,
                      hidden_size: hidden, num_layers: 1 },
      matrix_attention: { type: "linear", combination: "x,y,x*y", tensor_1_dim: 2 * hidden, tensor_2_dim: 2 * hidden },
      modeling_layer: { type: "lstm", bidirectional: true, input_size: 8 * hidden, hidden_size: hidden,
                        num_layers: 2, dropout: 0.2 },
      span_end_encoder: { type: "lstm", bidirectional: true, input_size: 14 * hidden, hidden_size: hidden, num_layers: 1 },
      dropout: 0.2,
    },
    data_loader: { batch_sampler: { type: "bucket", batch_size: if small then 16 else 40 } },
    trainer: {
      num_epochs: if small then std.parseInt(std.extVar("NUM_EPOCHS")) else 20,
      grad_norm: 5.0,
      patience: 10,
      validation_metric: "+em",
      learning_rate_scheduler: { type: "reduce_on_plateau", factor: 0.5, mode: "max", patience: 2 },
      optimizer: { type: "adam", betas: [0.9, 0.9] },
    },
  }
