// GroupReduce (Chen, Si, Li, Chelba & Hsieh, NeurIPS 2018) of the tied embedding/softmax matrix of a
// trained CPU AWD-LSTM, then fine-tuning: awd_lstm_ptb_small_finetune.jsonnet's recipe with a
// `vocabulary` compression block (10 frequency groups, the budget of an average rank 20, i.e. 9.8x
// fewer numbers than the 10,001x200 matrix; word counts from the PTB training split). With METHOD
// set, the LSTM matrices are compressed too (METHOD/TARGET/RANK/LAYERS as usual).
// Measured (docs/lm_methods.md, part d): see the GroupReduce r=20 rows there.
//   ARCHIVE=runs/lm_ptb_small/model.tar.gz NUM_EPOCHS=1 \
//     allennlp train training_configs/lm/awd_lstm_ptb_small_groupreduce_finetune.jsonnet -s runs/lm_ptb_groupreduce
// The archive written here reloads without ARCHIVE and without the training file.
local lib = import "../lib/lstmfact.libsonnet";
local corpora = import "corpora.libsonnet";
local finetune = import "awd_lstm_ptb_small_finetune.jsonnet";

finetune + {
  model+: {
    compression: (if lib.compression == null then {} else lib.compression) + {
      vocabulary: {
        method: "group_reduce",
        num_groups: 10,
        average_rank: 20,
        refinement_steps: 3,
        bits: null,
        frequencies_file: corpora.ptb.train,
      },
    },
  },
}
