// The CPU preset shared by the *_small configs: a 2-layer AWD-LSTM (embedding 200, hidden 400,
// tied, 3.45M parameters on PTB) with lighter dropout and Adam, which gets further than NT-ASGD
// in a few epochs. One PTB epoch takes 13-19 minutes on one CPU thread (a shared 2-core machine).
// NUM_EPOCHS sets the number of epochs.
local awd_lstm = import "awd_lstm.libsonnet";

function(corpus) awd_lstm(corpus,
  batch_size=20,
  sequence_length=35,
  num_epochs=std.parseInt(std.extVar("NUM_EPOCHS")),
  optimizer={ type: "adam", lr: 0.003, weight_decay: 1.2e-6 },
  nt_asgd=false,
  model={
    embedding_dim: 200,
    hidden_size: 400,
    num_layers: 2,
    output_dropout: 0.3,
    layer_dropout: 0.2,
    input_dropout: 0.3,
    embedding_dropout: 0.05,
    weight_dropout: 0.2,
  })
