// Shared pieces of the shipped configs. Every knob is an environment variable (AllenNLP passes
// the environment to jsonnet as ext vars); allennlp_lstmfact.plugin sets their defaults:
//   LSTMFACT_DATA  folder with local copies of the datasets ("" = their public URLs)
//   ELMO_OPTIONS, ELMO_WEIGHTS  ELMo files ("" = the config's default ELMo)
//   METHOD (svd | semi_nmf | prune | none), TARGET (W_i | W_h | both), RANK, LAYERS ("0,1"), SEED
local env(name) = std.extVar(name);
local method = env("METHOD");
{
  // A dataset file: LSTMFACT_DATA/<relative> when the folder is set, else its public URL.
  data(relative, url):: if env("LSTMFACT_DATA") == "" then url else env("LSTMFACT_DATA") + "/" + relative,
  elmo_options(default):: if env("ELMO_OPTIONS") == "" then default else env("ELMO_OPTIONS"),
  elmo_weights(default):: if env("ELMO_WEIGHTS") == "" then default else env("ELMO_WEIGHTS"),
  seed:: std.parseInt(env("SEED")),
  compression:: if method == "none" then null else {
    method: method,
    target: env("TARGET"),
    rank: std.parseInt(env("RANK")),
    seed: std.parseInt(env("SEED")),
    [if env("LAYERS") != "" then "layers"]: std.map(std.parseInt, std.split(env("LAYERS"), ",")),
  },
  // A model that takes ELMo as a plain `elmo` argument (BCN), with that ELMo compressed.
  with_compressed_elmo(model):: if method == "none" then model else {
    type: "with_compressed_elmo",
    model: model,
    compression: $.compression,
  },
  // The ELMo token embedder, factorized as METHOD/TARGET/RANK say.
  elmo_token_embedder(options_file, weight_file, extra={}):: {
    type: "factorized_elmo_token_embedder",
    options_file: options_file,
    weight_file: weight_file,
    [if method != "none" then "compression"]: $.compression,
  } + extra,
}
