// SST-5 (5-class sentences) for the classification configs: readers, data and the test set.
//   max_train: training sentences (0 = all 8,544);  elmo_characters: read ELMo's character ids
//   ("elmo") beside the word ids ("tokens").
local lib = import "../lib/lstmfact.libsonnet";

function(max_train, elmo_characters)
  local reader(max_instances) = {
    type: "sst_tokens",
    granularity: "5-class",
    [if max_instances > 0 then "max_instances"]: max_instances,
    token_indexers: { tokens: { type: "single_id", lowercase_tokens: true } }
                    + (if elmo_characters then { elmo: { type: "elmo_characters" } } else {}),
  };
  {
    dataset_reader: reader(max_train),
    validation_dataset_reader: reader(0),
    train_data_path: lib.data("sst/train.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/train.txt"),
    validation_data_path: lib.data("sst/dev.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/dev.txt"),
    test_data_path: lib.data("sst/test.txt", "https://allennlp.s3.amazonaws.com/datasets/sst/test.txt"),
    evaluate_on_test: true,
  }
