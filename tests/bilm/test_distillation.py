"""elmo_distillation: a compressed ELMo's factors trained to reproduce the dense ELMo's layers on raw text."""
import json
import os

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary

from allennlp_lstmfact.bilm.distillation import ElmoDistillation
from allennlp_lstmfact.bilm_files import check_elmo_files
from allennlp_lstmfact.commands import compress_elmo_files
from allennlp_lstmfact.core import LowRankLinear
from allennlp_lstmfact.elmo import ElmoCompression
from tests.bilm.conftest import corpus_batches
from tests.conftest import REPO

CONFIG = REPO / "training_configs" / "bilm" / "elmo_distill.jsonnet"


@pytest.fixture(scope="module")
def compressed_elmo(tiny_elmo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compressed")
    compress_elmo_files(*tiny_elmo, str(folder), {"method": "svd", "target": "both", "rank": 2})
    return str(folder / "options.json"), str(folder / "weights.hdf5")


def relative_errors(model, batches):
    model.eval()
    with torch.no_grad():
        return torch.stack([model(**batch)["relative_errors"] for batch in batches]).mean(0)


def test_a_few_steps_reduce_every_layers_error_and_only_the_factors_move(tiny_elmo, compressed_elmo, tiny_vocab):
    torch.manual_seed(0)
    model = ElmoDistillation(Vocabulary(), *tiny_elmo, student_options_file=compressed_elmo[0],
                             student_weight_file=compressed_elmo[1])
    trained = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    assert trained and all(".input_linearity." in name or ".state_linearity." in name for name in trained)
    assert all(name.startswith("student._elmo_lstm.") for name in trained)
    frozen = {name: value.clone() for name, value in model.state_dict().items()
              if name not in trained and value.is_floating_point()}
    batches = list(corpus_batches(tiny_vocab))
    before = relative_errors(model, batches)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    model.train()
    for _ in range(3):
        for batch in batches:
            optimizer.zero_grad()
            model(**batch)["loss"].backward()
            optimizer.step()
    after = relative_errors(model, batches)
    assert before.shape == (2,) and (after < before).all(), (before, after)
    assert all(torch.equal(model.state_dict()[name], value) for name, value in frozen.items())


def test_the_written_student_round_trips(tiny_elmo, compressed_elmo, tiny_vocab, tmp_path):
    model = ElmoDistillation(Vocabulary(), *tiny_elmo, compression=ElmoCompression(method="semi_nmf", rank=2))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01)  # as training would move them
    model.write_student(str(tmp_path / "out"))
    options = check_elmo_files(str(tmp_path / "out" / "options.json"), str(tmp_path / "out" / "weights.hdf5"))
    assert options["compression"]["method"] == "semi_nmf"
    reloaded = ElmoDistillation(Vocabulary(), *tiny_elmo, student_options_file=str(tmp_path / "out" / "options.json"),
                                student_weight_file=str(tmp_path / "out" / "weights.hdf5"))
    assert type(reloaded.student._elmo_lstm.forward_layer_0.state_linearity) is LowRankLinear
    batch = next(corpus_batches(tiny_vocab))
    torch.testing.assert_close(relative_errors(reloaded, [batch]), relative_errors(model, [batch]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("arguments, message", [
    ({}, "elmo_distillation needs exactly one student"),
    ({"compression": ElmoCompression(method="svd", rank=2), "student_options_file": "x.json",
      "student_weight_file": "x.hdf5"}, "elmo_distillation needs exactly one student"),
    ({"compression": ElmoCompression(method="svd", rank=2), "trained": "all"},
     "trained 'all' is unknown; allowed: compressed, lstm"),
])
def test_bad_arguments_are_configuration_errors(tiny_elmo, arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        ElmoDistillation(Vocabulary(), *tiny_elmo, **arguments)


def test_a_dense_student_is_refused(tiny_elmo):
    with pytest.raises(ConfigurationError, match="is a dense ELMo; compress it with `allennlp compress-elmo` first"):
        ElmoDistillation(Vocabulary(), *tiny_elmo, student_options_file=tiny_elmo[0], student_weight_file=tiny_elmo[1])


@pytest.mark.slow  # allennlp train, 2 epochs on the fixture corpus
def test_allennlp_train_writes_a_compressed_elmo_that_loads(elmo_env, compressed_elmo, tiny_data_folder, tmp_path,
                                                            monkeypatch):
    for name, value in {"LSTMFACT_DATA": str(tiny_data_folder), "COMPRESSED_ELMO_OPTIONS": compressed_elmo[0],
                        "COMPRESSED_ELMO_WEIGHTS": compressed_elmo[1], "NUM_EPOCHS": "2",
                        "MAX_TRAIN_INSTANCES": "0"}.items():
        monkeypatch.setenv(name, value)
    model = train_model_from_file(str(CONFIG), str(tmp_path / "run"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["validation_relative_error"] > 0
    written = [str(tmp_path / "run" / "compressed_elmo" / name) for name in ("options.json", "weights.hdf5")]
    assert sorted(os.listdir(tmp_path / "run" / "compressed_elmo")) == ["options.json", "weights.hdf5"]
    reloaded = ElmoDistillation(Vocabulary(), *elmo_env, student_options_file=written[0],
                                student_weight_file=written[1])
    for name, value in model.student.state_dict().items():  # biases go through bilm-tf's B (forget gate - 1)
        torch.testing.assert_close(reloaded.student.state_dict()[name], value, atol=1e-6, rtol=0)
