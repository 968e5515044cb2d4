"""
The published numbers of Winata et al. 2019: Table 1 (PTB, AWD-LSTM: parameters, perplexity
and E(r) without and with fine-tuning) and Table 3 (SST-5, SNLI, SQuAD with ELMo, r = 10 and
r = 400, without fine-tuning; accuracy / F1 in %). Table 2 (WT-2) is not included: its columns are
garbled in our copy of the paper.
"""
from typing import Dict, NamedTuple, Optional, Tuple


class PublishedValue(NamedTuple):
    """The numbers of one cell (or of the uncompressed model) of a published table."""

    value: float
    efficiency: Optional[float] = None
    value_finetuned: Optional[float] = None
    efficiency_finetuned: Optional[float] = None
    params: Optional[float] = None


# The uncompressed models (PTB also after fine-tuning, and its parameters).
BASELINES: Dict[str, PublishedValue] = {
    "ptb": PublishedValue(58.3, value_finetuned=57.3, params=24e6),
    "sst5": PublishedValue(54.5),
    "snli": PublishedValue(88.5),
    "squad": PublishedValue(81.75),
}
BASELINE_NAMES = {"ptb": "AWD-LSTM", "sst5": "BCN + ELMo", "snli": "ESIM + ELMo", "squad": "BiDAF + ELMo"}
METRIC_NAMES = {"ptb": "PPL", "sst5": "Acc.", "snli": "Acc.", "squad": "F1"}

_TABLE1 = {  # (method, target, rank): (params, ppl, E(r), ppl fine-tuned, E(r) fine-tuned)
    ("semi_nmf", "W_h", 10): (9e6, 78.5, 0.72, 58.11, -0.02),
    ("svd", "W_h", 10): (9e6, 78.07, 0.32, 58.18, -0.02),
    ("prune", "W_h", 10): (9e6, 83.62, 0.89, 57.94, -0.03),
    ("semi_nmf", "W_h", 400): (18e6, 59.7, 0.05, 57.84, -0.02),
    ("svd", "W_h", 400): (18e6, 59.34, 0.006, 57.81, -0.02),
    ("prune", "W_h", 400): (18e6, 59.47, 0.03, 57.19, -0.04),
    ("semi_nmf", "W_i", 10): (15e6, 485.4, 19.81, 81.4, 1.04),
    ("svd", "W_i", 10): (15e6, 462.19, 6.83, 88.12, 1.35),
    ("prune", "W_i", 10): (15e6, 676.76, 28.69, 82.23, 1.08),
    ("semi_nmf", "W_i", 400): (20e6, 62.7, 0.42, 58.47, -0.01),
    ("svd", "W_i", 400): (20e6, 60.59, 0.02, 58.04, -0.01),
    ("prune", "W_i", 400): (20e6, 59.62, 0.10, 57.65, -0.02),
}

_TABLE3 = {  # task: {(method, target): (r=10 value, E(r), r=400 value, E(r))}
    "sst5": {("semi_nmf", "W_h"): (50.18, 0.29, 53.93, 0.21), ("svd", "W_h"): (50.4, 0.27, 54.11, 0.13),
             ("prune", "W_h"): (50.81, 0.25, 54.66, -0.03), ("semi_nmf", "W_i"): (38.23, 1.1, 54.11, 0.15),
             ("svd", "W_i"): (40.58, 0.94, 54.34, 0.05), ("prune", "W_i"): (34.57, 1.35, 54.61, -0.01)},
    "snli": {("semi_nmf", "W_h"): (87.24, 0.04, 88.45, 0.01), ("svd", "W_h"): (87.27, 0.04, 88.46, 0.005),
             ("prune", "W_h"): (87.51, 0.03, 88.53, -0.003), ("semi_nmf", "W_i"): (77.08, 0.39, 88.44, 0.01),
             ("svd", "W_i"): (78.15, 0.35, 88.48, 0.002), ("prune", "W_i"): (73.67, 0.5, 88.48, 0.005)},
    "squad": {("semi_nmf", "W_h"): (76.59, 0.21, 81.55, 0.04), ("svd", "W_h"): (76.72, 0.21, 81.62, 0.027),
              ("prune", "W_h"): (52.02, 0.49, 81.73, 0.006), ("semi_nmf", "W_i"): (60.69, 0.88, 81.78, -0.0003),
              ("svd", "W_i"): (57.14, 1.03, 81.78, -0.0003), ("prune", "W_i"): (52.02, 1.24, 81.73, 0.004)},
}


def _cells() -> Dict[Tuple[str, str, str, int], PublishedValue]:
    cells = {("ptb", *key): PublishedValue(ppl, e, ppl_ft, e_ft, params)
             for key, (params, ppl, e, ppl_ft, e_ft) in _TABLE1.items()}
    for task, rows in _TABLE3.items():
        for (method, target), (value_10, e_10, value_400, e_400) in rows.items():
            cells[(task, method, target, 10)] = PublishedValue(value_10, e_10)
            cells[(task, method, target, 400)] = PublishedValue(value_400, e_400)
    return cells


CELLS = _cells()


def published_value(task: str, method: str, target: str, rank: Optional[int]) -> Optional[PublishedValue]:
    """
    The published numbers of a cell (`method="none"`: the uncompressed model), or `None`.

    # Parameters

    task : `str`
        `ptb` (Table 1), `sst5`, `snli` or `squad` (Table 3).
    method, target : `str`
    rank : `int`, optional
    """
    if method == "none":
        return BASELINES.get(task)
    return CELLS.get((task, method, target, rank))
