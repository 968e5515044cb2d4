"""
Registers every AllenNLP component of this package and sets the defaults of the variables the
shipped jsonnet configs read with `std.extVar` (AllenNLP passes the environment as ext vars, and
jsonnet has no default for a missing one).
"""
import os

import allennlp_lstmfact_compat

allennlp_lstmfact_compat.apply_all()

from allennlp_lstmfact import callbacks, commands, elmo  # noqa: E402,F401  (registrations)
from allennlp_lstmfact import bilm  # noqa: E402,F401  (registrations: elmo_bilm, bilm_sentences)
from allennlp_lstmfact import lm  # noqa: E402,F401  (registrations: the AWD-LSTM language model)

CONFIG_DEFAULTS = {
    # Folder with local copies of the datasets (../shared/data layout); "" = the public URLs.
    "LSTMFACT_DATA": "",
    # ELMo files and output size (2 x projection_dim); "" = the config's default ELMo.
    "ELMO_OPTIONS": "",
    "ELMO_WEIGHTS": "",
    "ELMO_DIM": "",
    # Compression chosen per run: METHOD=none leaves ELMo uncompressed.
    "METHOD": "none",
    "TARGET": "W_h",
    "RANK": "10",
    "LAYERS": "",
    "SEED": "13370",
    # The archive the *_finetune configs start from.
    "ARCHIVE": "",
    # Size of the CPU presets (*_small.jsonnet): training instances (0 = all) and epochs.
    "MAX_TRAIN_INSTANCES": "0",
    "NUM_EPOCHS": "3",
}
for _name, _value in CONFIG_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
