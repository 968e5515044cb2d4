// Compress a trained AWD-LSTM and fine-tune it (Winata et al. 2019's "w/ fine-tuning" setting):
// the model of the archive in ARCHIVE (trained with awd_lstm_ptb_small.jsonnet), compressed as
// METHOD/TARGET/RANK/LAYERS say, trained again on PTB with the preset's trainer at a lower
// learning rate. The archive written here reloads without ARCHIVE (allennlp drops
// `pretrained_file` when it loads an archive).
//   ARCHIVE=runs/lm_ptb/model.tar.gz METHOD=svd TARGET=W_h RANK=10 NUM_EPOCHS=1 \
//     allennlp train training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet -s runs/lm_ptb_svd_W_h_10
local lib = import "../lib/lstmfact.libsonnet";
local corpora = import "corpora.libsonnet";
local small = (import "small.libsonnet")(corpora.ptb);
local archive = std.extVar("ARCHIVE");

small + {
  vocabulary: { type: "from_files", directory: archive, oov_token: "<unk>" },
  model: {
    type: "compressed_from_pretrained",
    model: { [key]: small.model[key] for key in std.objectFields(small.model) if key != "compression" },
    compression: if lib.compression == null then error "set METHOD (svd | semi_nmf | prune) to fine-tune" else lib.compression,
    pretrained_file: if archive == "" then error "set ARCHIVE to the trained model.tar.gz" else archive,
  },
  trainer+: { optimizer+: { lr: 0.001 } },
}
