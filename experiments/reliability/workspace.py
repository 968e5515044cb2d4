"""
What the reliability cases run on: a tiny ELMo (random weights), a tiny ELMo classifier archive and
a tiny AWD-LSTM archive, trained from the repository's test fixtures, and scratch folders.
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import allennlp_models.classification  # noqa: F401  (the classifier's reader and model)
from allennlp.commands.train import train_model_from_file

from allennlp_lstmfact.bilm_files import TINY_ELMO_OPTIONS, random_elmo_weights, write_elmo_files
from experiments import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
SST = FIXTURES / "data" / "sst_tiny.txt"
LM_CORPUS = FIXTURES / "lm" / "tiny.train.txt"


@dataclass
class Workspace:
    """
    The files the cases use, all under `root` (read only for the cases: they write to `scratch()`).

    # Parameters

    root : `Path`
    elmo_options, elmo_weights : `str`
        A tiny ELMo (`TINY_ELMO_OPTIONS`, random weights).
    elmo_archive : `str`
        An uncompressed classifier over that ELMo (`basic_classifier` on `SST`), trained 1 epoch.
    lm_archive : `str`
        An uncompressed tiny AWD-LSTM (on `LM_CORPUS`), trained 1 epoch.
    """

    root: Path
    elmo_options: str
    elmo_weights: str
    elmo_archive: str
    lm_archive: str
    sst: str = str(SST)
    lm_corpus: str = str(LM_CORPUS)

    def scratch(self, name: str) -> Path:
        """A new, empty folder under `root` for one case's outputs."""
        folder = self.root / "scratch" / name
        folder.mkdir(parents=True, exist_ok=False)
        return folder


def build_workspace(root: Path) -> Workspace:
    """Write the tiny ELMo and train the two tiny archives under `root` (about 20 s on one CPU)."""
    root.mkdir(parents=True, exist_ok=True)
    options, weights = str(root / "elmo" / "options.json"), str(root / "elmo" / "weights.hdf5")
    write_elmo_files(TINY_ELMO_OPTIONS, random_elmo_weights(TINY_ELMO_OPTIONS, seed=1), options, weights)
    one_epoch = {"trainer.num_epochs": 1}
    knobs = {"METHOD": "none", "ELMO_OPTIONS": options, "ELMO_WEIGHTS": weights, "ELMO_DIM": "32",
             "LM_FIXTURES": str(FIXTURES / "lm")}  # what the fixture configs read
    with mock.patch.dict(os.environ, knobs):
        train_model_from_file(str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"), str(root / "elmo_run"),
                              overrides=json.dumps({**one_epoch, "train_data_path": str(SST),
                                                    "validation_data_path": str(SST)}))
        train_model_from_file(str(FIXTURES / "lm" / "awd_lstm_tiny.jsonnet"), str(root / "lm_run"),
                              overrides=json.dumps(one_epoch))
    return Workspace(root, options, weights, str(root / "elmo_run" / "model.tar.gz"),
                     str(root / "lm_run" / "model.tar.gz"))
