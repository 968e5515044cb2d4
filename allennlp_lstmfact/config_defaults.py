"""
The defaults of the variables the shipped jsonnet configs read with `std.extVar` (AllenNLP passes
the environment as ext vars, and jsonnet has no default for a missing one). Importing this module
has no side effect and imports nothing of AllenNLP: `allennlp_lstmfact.plugin` applies the
defaults, the experiments read them.
"""
import os
from typing import Dict, MutableMapping, Optional

CONFIG_DEFAULTS: Dict[str, str] = {
    # Folder with local copies of the datasets (../shared/data layout); "" = the public URLs.
    "LSTMFACT_DATA": "",
    # "false": the task model without ELMo (the control that shows what ELMo contributes).
    "USE_ELMO": "true",
    # ELMo files and output size (2 x projection_dim); "" = the config's default ELMo.
    "ELMO_OPTIONS": "",
    "ELMO_WEIGHTS": "",
    "ELMO_DIM": "",
    # ELMo's scalar mix: "all" (char CNN and both LSTM layers, learned weights) or "lstm_only" (the
    # two LSTM layers, equal fixed weights: what ELMo's LSTM contributes cannot come from its char CNN).
    "ELMO_MIX": "all",
    # Compression chosen per run: METHOD=none leaves ELMo uncompressed.
    "METHOD": "none",
    "TARGET": "W_h",
    "RANK": "10",
    "LAYERS": "",
    "SEED": "13370",
    # A compressed ELMo (allennlp compress-elmo) that training_configs/bilm/elmo_distill.jsonnet repairs;
    # "" = the ELMo of ELMO_OPTIONS compressed as METHOD/TARGET/RANK say.
    "COMPRESSED_ELMO_OPTIONS": "",
    "COMPRESSED_ELMO_WEIGHTS": "",
    # The archive the *_finetune configs start from.
    "ARCHIVE": "",
    # Size of the CPU presets (*_small.jsonnet): training instances (0 = all) and epochs.
    "MAX_TRAIN_INSTANCES": "0",
    "NUM_EPOCHS": "3",
}


def apply_config_defaults(environment: Optional[MutableMapping[str, str]] = None) -> None:
    """
    Set each variable of `CONFIG_DEFAULTS` that `environment` lacks to its default.

    # Parameters

    environment : `MutableMapping[str, str]`, optional (default = `os.environ`)
    """
    environment = os.environ if environment is None else environment
    for name, value in CONFIG_DEFAULTS.items():
        environment.setdefault(name, value)
