"""
Grids for the tasks of Winata et al. 2019 at CPU scale (the `*_small.jsonnet` presets on the
shared data folder), as in `experiments.elmo_tasks`. Methods/targets/ranks/seeds default to Table 3's cells
and are meant to be overridden from the command line.

`ptb`: post-hoc cells go through `allennlp compress` (AWD-LSTM archives), fine-tuned cells compress
the baseline through the fine-tuning config (`compressed_from_pretrained`).
"""
from typing import Any, Dict, List, Optional

from experiments.sweep.grid import GridError, GridSpec

SMALL_ELMO = ("AllenNLP's tiny trained test biLM from $LSTMFACT_DATA/elmo/tiny_fixture (2 layers, LSTM 64, "
              "projection 16: W_i and W_h are 256x16) unless ELMO_OPTIONS names another")

PRESETS: Dict[str, Dict[str, Any]] = {
    "sst5": {
        "config": "training_configs/classification/bcn_elmo_small.jsonnet",
        "test_data": "$LSTMFACT_DATA/sst/test.txt",
        "metric": "accuracy",
        "notes": {"model": "BCN + ELMo, CPU preset (no GloVe, small dims)", "elmo": SMALL_ELMO,
                  "data": "SST-5 5-class: train (8,544 sentences, or MAX_TRAIN_INSTANCES), dev for model "
                          "selection, test (2,210)"},
    },
    "snli": {
        "config": "training_configs/pair_classification/esim_elmo_small.jsonnet",
        "test_data": "$LSTMFACT_DATA/snli/snli_1.0_test.labeled_pairs.jsonl",
        "metric": "accuracy",
        "notes": {"model": "ESIM + ELMo, CPU preset (no GloVe, small dims)", "elmo": SMALL_ELMO,
                  "data": "SNLI: trained on dev (no train set here), validated and tested on test"},
    },
    "squad": {
        "config": "training_configs/rc/bidaf_elmo_small.jsonnet",
        "test_data": "$LSTMFACT_DATA/squad/dev-v1.1.json",
        "metric": "f1",
        "env": {"MAX_TRAIN_INSTANCES": "2000"},
        "evaluate_overrides": {"validation_dataset_reader.max_instances": 2000},
        "notes": {"model": "BiDAF + ELMo, CPU preset (no GloVe, small dims)", "elmo": SMALL_ELMO,
                  "data": "SQuAD 1.1: first 2,000 questions of the 44-article train sample; "
                          "evaluated on the first 2,000 dev questions"},
    },
    "ptb": {
        "config": "training_configs/lm/awd_lstm_ptb_small.jsonnet",
        "finetune_config": "training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet",
        "finetune_from": "baseline",
        "test_data": "$LSTMFACT_DATA/ptb/ptb.test.txt",
        "metric": "perplexity",
        "evaluate_args": ["--batch-size", "1"],
        "notes": {"model": "AWD-LSTM CPU preset (2 layers, embedding 200, hidden 400, Adam)",
                  "data": "PTB (Mikolov splits); test perplexity over the whole split, batch 1"},
    },
}


def preset(name: str, **changes: Any) -> GridSpec:
    """
    The preset grid `name`, with `changes`.

    # Parameters

    name : `str`
        A key of `PRESETS`.
    **changes : `Any`
        Keys of `GridSpec`; `None` values are ignored.
    """
    if name not in PRESETS:
        raise GridError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    values = {"task": name, **PRESETS[name]}
    values.update({key: value for key, value in changes.items() if value is not None})
    return GridSpec.from_dict(values)


def load_grid(grid_file: Optional[str] = None, preset_name: Optional[str] = None, env: Optional[List[str]] = None,
              **changes: Any) -> GridSpec:
    """
    The grid of a file or a preset, with `changes` and extra environment variables.

    # Parameters

    grid_file : `str`, optional
        A `.json` / `.yaml` grid (`GridSpec.from_file`); else `preset_name` is used.
    preset_name : `str`, optional
        A key of `PRESETS`.
    env : `List[str]`, optional
        `NAME=VALUE` pairs added to the grid's `env`.
    **changes : `Any`
        Keys of `GridSpec`; `None` values are ignored.
    """
    if grid_file:
        spec = GridSpec.from_file(grid_file).replace(**changes)
    elif preset_name:
        spec = preset(preset_name, **changes)
    else:
        raise GridError("give a grid file or a preset")
    if env:
        pairs = [item.split("=", 1) for item in env]
        if any(len(pair) != 2 for pair in pairs):
            raise GridError("--env takes NAME=VALUE pairs")
        spec = spec.replace(env={**spec.env, **dict(pairs)})
    return spec
