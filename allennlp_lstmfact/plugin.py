"""
Registers every AllenNLP component of this package and sets the defaults of the variables the
shipped jsonnet configs read with `std.extVar` (AllenNLP passes the environment as ext vars, and
jsonnet has no default for a missing one).
"""
import os

import allennlp_lstmfact_compat

allennlp_lstmfact_compat.apply_all()

from allennlp_lstmfact import callbacks, commands, elmo  # noqa: E402,F401  (registrations)

OFFICIAL_ELMO = "https://allennlp.s3.amazonaws.com/models/elmo/2x4096_512_2048cnn_2xhighway/elmo_2x4096_512_2048cnn_2xhighway"
CONFIG_DEFAULTS = {
    # Folder with local copies of the datasets (../shared/data layout); "" = the public URLs.
    "LSTMFACT_DATA": "",
    # ELMo files; "" = the config's own default (the official ELMo, or the data folder's tiny biLM).
    "ELMO_OPTIONS": "",
    "ELMO_WEIGHTS": "",
    # Compression chosen per run: METHOD=none leaves ELMo uncompressed.
    "METHOD": "none",
    "TARGET": "W_h",
    "RANK": "10",
    "LAYERS": "",
    "SEED": "13370",
    # Sizes of the CPU presets (e.g. training_configs/classification/bcn_elmo_sst5_small.jsonnet).
    "ELMO_DIM": "",  # "" = the default ELMo's
    "MAX_TRAIN_INSTANCES": "0",  # 0 = all
    "NUM_EPOCHS": "3",
}
for _name, _value in CONFIG_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
