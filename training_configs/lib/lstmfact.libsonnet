// Shared pieces of the shipped configs. Every knob is an environment variable (AllenNLP passes
// the environment to jsonnet as ext vars); allennlp_lstmfact.plugin sets their defaults:
//   LSTMFACT_DATA  folder with local copies of the datasets ("" = their public URLs)
//   ELMO_OPTIONS, ELMO_WEIGHTS  ELMo files ("" = the config's default ELMo)
//   ELMO_DIM  2 x projection_dim of that ELMo (required with ELMO_OPTIONS)
//   USE_ELMO  "true", or "false" for the task model without ELMo (the "no ELMo" control)
//   ELMO_MIX  "all" (ELMo's learned scalar mix) or "lstm_only" (only its two LSTM layers, fixed equal weights)
//   METHOD (svd | semi_nmf | prune | none), TARGET (W_i | W_h | both), RANK, LAYERS ("0,1"), SEED
//   ARCHIVE  the archive a *_finetune config starts from
local env(name) = std.extVar(name);
local method = env("METHOD");
local data_root = env("LSTMFACT_DATA");
local elmo_url = {
  official: "https://allennlp.s3.amazonaws.com/models/elmo/2x4096_512_2048cnn_2xhighway/elmo_2x4096_512_2048cnn_2xhighway",
  small: "https://allennlp.s3.amazonaws.com/models/elmo/2x1024_128_2048cnn_1xhighway/elmo_2x1024_128_2048cnn_1xhighway",
};
{
  // A dataset file: LSTMFACT_DATA/<relative> when the folder is set, else its public URL.
  data(relative, url):: if env("LSTMFACT_DATA") == "" then url else env("LSTMFACT_DATA") + "/" + relative,
  // The ELMo to use: ELMO_OPTIONS/ELMO_WEIGHTS/ELMO_DIM when set, else by `size`:
  //   "official": the 2x4096_512 ELMo of the papers (output 1024);
  //   "small": AllenNLP's tiny test biLM from LSTMFACT_DATA (output 32) when the data folder is
  //            set, else the public 2x1024_128 ELMo (output 256).
  // `used` is false (and `dim` 0) when USE_ELMO=false: the task configs then leave ELMo out.
  // `mix` holds the ELMo arguments for ELMO_MIX (for `Elmo` and the ELMo token embedder alike).
  elmo(size):: if $.use_elmo then { used: true, mix: $.elmo_mix } + $.elmo_files(size) else { used: false, dim: 0 },
  elmo_mix:: if env("ELMO_MIX") == "all" then {}
             // pre-softmax weights of a 2-layer biLM's mix [char CNN, LSTM 1, LSTM 2]: softmax gives 0, 1/2, 1/2
             else if env("ELMO_MIX") == "lstm_only" then { scalar_mix_parameters: [-1e4, 0.0, 0.0] }
             else error "ELMO_MIX must be all or lstm_only, got " + env("ELMO_MIX"),
  use_elmo:: if env("USE_ELMO") == "true" then true else if env("USE_ELMO") == "false" then false
             else error "USE_ELMO must be true or false, got " + env("USE_ELMO"),
  elmo_files(size):: if env("ELMO_OPTIONS") != "" then {
    options_file: env("ELMO_OPTIONS"),
    weight_file: env("ELMO_WEIGHTS"),
    dim: if env("ELMO_DIM") != "" then std.parseInt(env("ELMO_DIM"))
         else error "ELMO_DIM (2 x projection_dim of the ELMo in ELMO_OPTIONS) must be set with ELMO_OPTIONS",
  } else if size == "small" && data_root != "" then {
    options_file: data_root + "/elmo/tiny_fixture/options.json",
    weight_file: data_root + "/elmo/tiny_fixture/lm_weights.hdf5",
    dim: 32,
  } else {
    options_file: elmo_url[size] + "_options.json",
    weight_file: elmo_url[size] + "_weights.hdf5",
    dim: if size == "official" then 1024 else 256,
  },
  // An offline tokenizer: spaCy's blank English pipeline (en_core_web_sm cannot be downloaded here).
  tokenizer:: { type: "spacy", language: "blank:en" },
  // Fine-tune a (compressed) archive: the task config with its model and vocabulary taken from ARCHIVE.
  finetune(config):: config + {
    vocabulary: { type: "from_files", directory: env("ARCHIVE") },
    model: { type: "from_archive", archive_file: env("ARCHIVE") },
  },
  seed:: std.parseInt(env("SEED")),
  // The compression block the environment asks for (null for METHOD=none).
  compression:: if method == "none" then null else {
    method: method,
    target: env("TARGET"),
    rank: std.parseInt(env("RANK")),
    seed: std.parseInt(env("SEED")),
    [if env("LAYERS") != "" then "layers"]: std.map(std.parseInt, std.split(env("LAYERS"), ",")),
  },
  // A compression block from explicit values (presets).
  compress(method, target, rank):: { method: method, target: target, rank: rank, seed: $.seed },
  // A model that takes ELMo as a plain `elmo` argument (BCN), with that ELMo compressed.
  with_compressed_elmo(model, compression=$.compression):: if compression == null then model else {
    type: "with_compressed_elmo",
    model: model,
    compression: compression,
  },
  // The ELMo token embedder, compressed as `compression` says (default: the environment's).
  elmo_token_embedder(options_file, weight_file, extra={}, compression=$.compression):: {
    type: "factorized_elmo_token_embedder",
    options_file: options_file,
    weight_file: weight_file,
    [if compression != null then "compression"]: compression,
  } + extra,
}
