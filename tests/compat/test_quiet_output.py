"""
What the compat layer keeps out of the output of every command (nltk_download, params_log,
elmo_initialization_log, quiet_warnings), and what it keeps in.
"""
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nltk
import pytest
import torch
from allennlp.modules.elmo import Elmo
from allennlp.nn import InitializerApplicator

from allennlp_lstmfact_compat import nltk_download, quiet_warnings
from allennlp_lstmfact_compat.elmo_initialization_log import elmo_bilm_parameters
from tests.conftest import FIXTURES

ALLENNLP = str(Path(sys.executable).parent / "allennlp")


class TinyElmoModel(torch.nn.Module):
    def __init__(self, options_file: str, weight_file: str) -> None:
        super().__init__()
        self.elmo = Elmo(options_file, weight_file, num_output_representations=1)
        self.output = torch.nn.Linear(32, 2)


def test_the_import_time_download_of_narrativeqa_is_skipped(capsys):
    code = compile("result = nltk.download('punkt')", "narrativeqa.py", "exec")
    namespace = {"__name__": nltk_download.IMPORT_TIME_DOWNLOADER, "nltk": nltk}
    exec(code, namespace)
    assert namespace["result"] is False
    assert capsys.readouterr() == ("", "")


def test_elmo_weights_are_not_listed_as_default_initialized(tiny_elmo, caplog, monkeypatch):
    # allennlp's AllenNlpTestCase (ModelTestCase) disables this logger for the tests that follow it
    monkeypatch.setattr(logging.getLogger("allennlp.nn.initializers"), "disabled", False)
    model = TinyElmoModel(*tiny_elmo)
    with caplog.at_level(logging.INFO, logger="allennlp.nn.initializers"):
        InitializerApplicator()(model)
    listed = [record.args[0] for record in caplog.records if record.msg == "   %s"]
    assert listed == ["elmo.scalar_mix_0.gamma", *[f"elmo.scalar_mix_0.scalar_parameters.{i}" for i in range(3)],
                      "output.bias", "output.weight"]
    loaded = elmo_bilm_parameters(model)
    assert len(loaded) == len(list(model.elmo._elmo_lstm.parameters())) and not loaded & set(listed)
    assert caplog.messages[-1] == f"   (and {len(loaded)} parameters of ELMo's biLM, loaded from its weight file)"


# The warnings as the libraries word them, and the modules they are attributed to.
LIBRARY_WARNINGS = [
    (UserWarning, "pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html. "
     "The pkg_resources package is slated for removal as early as 2025-11-30.", "spacy.cli.info"),
    (FutureWarning, "You are using a Python version (3.11.7) which Google will stop supporting in new releases of "
     "google.api_core once it reaches its end of life (2027-10-24).", "google.api_core._python_version_support"),
    (FutureWarning, "`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use `torch.amp.custom_fwd(args..., "
     "device_type='cuda')` instead.", "fairscale.experimental.nn.offload"),
    (FutureWarning, "`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use `torch.amp.custom_bwd(args..., "
     "device_type='cuda')` instead.", "fairscale.experimental.nn.offload"),
    (FutureWarning, "`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', "
     "args...)` instead.", "allennlp.training.gradient_descent_trainer"),
]


@pytest.mark.parametrize("category, text, module", LIBRARY_WARNINGS)
def test_a_library_warning_is_ignored_only_from_its_modules(category, text, module):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_warnings.install()
        warnings.warn_explicit(text, category, "library.py", 1, module=module)
        warnings.warn_explicit(text, category, "user_code.py", 1, module="user_code")
    assert [(w.filename, str(w.message)) for w in caught] == [("user_code.py", text)]


@pytest.mark.slow  # one `allennlp train` process: 10-15 s
def test_allennlp_train_prints_no_noise_from_another_folder(elmo_env, tmp_path):
    """Run from a folder without .allennlp_plugins: the plugin is found (its token embedder builds)."""
    data = str(FIXTURES / "data" / "sst_tiny.txt")
    overrides = json.dumps({"train_data_path": data, "validation_data_path": data, "trainer.num_epochs": 1})
    env = {**os.environ, "METHOD": "svd", "TARGET": "W_h", "RANK": "2"}
    result = subprocess.run([ALLENNLP, "train", str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"),
                             "-s", str(tmp_path / "run"), "-o", overrides], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    lines = output.splitlines()
    assert [line for line in lines if "Warning" in line or "[nltk_data]" in line or "common.params" in line] == []
    assert [line for line in lines if "_elmo_lstm." in line and "initializers" in line] == []
    assert any("loaded from its weight file" in line for line in lines)
    for kept in ("Plugin allennlp_lstmfact.plugin available", "Compressed ELMo (svd, W_h, rank 2)",
                 "Beginning training", "best_validation_accuracy"):
        assert any(kept in line for line in lines), kept
