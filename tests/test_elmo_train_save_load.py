import json

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.common.testing import ModelTestCase
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import LowRankLinear, MaskedLinear, count_parameters
from tests.conftest import FIXTURES, REPO

CONFIGS = {
    "token_embedder": FIXTURES / "basic_classifier_factorized_elmo.jsonnet",
    "bcn_with_compressed_elmo": REPO / "training_configs" / "classification" / "bcn_elmo_small.jsonnet",
}
SST_TINY = FIXTURES / "data" / "sst_tiny.txt"


@pytest.fixture
def compression_env(elmo_env, monkeypatch, request):
    method, target = request.param
    for name, value in {"METHOD": method, "TARGET": target, "RANK": "3", "NUM_EPOCHS": "1",
                        "MAX_TRAIN_INSTANCES": "0"}.items():
        monkeypatch.setenv(name, value)
    return method, target


def elmo_lstm(model):
    from allennlp.modules.elmo import Elmo

    (elmo,) = [m for m in model.modules() if isinstance(m, Elmo)]
    return elmo._elmo_lstm._elmo_lstm


class TestTrainSaveLoad(ModelTestCase):
    @pytest.mark.parametrize("config", sorted(CONFIGS))
    @pytest.mark.parametrize("compression_env", [("svd", "W_h"), ("semi_nmf", "W_i"), ("prune", "both")],
                             indirect=True)
    def test_compressed_model_trains_saves_and_reloads(self, config, compression_env):
        params_overrides = {"train_data_path": str(SST_TINY), "validation_data_path": str(SST_TINY)}
        if "test_data_path" in Params.from_file(str(CONFIGS[config])):
            params_overrides["test_data_path"] = str(SST_TINY)
        if config == "bcn_with_compressed_elmo":  # batches must come in the same order twice
            params_overrides["data_loader.batch_sampler.shuffle"] = False
        self.set_up_model(CONFIGS[config], SST_TINY)
        self.ensure_model_can_train_save_and_load(
            self.param_file, tolerance=1e-5, overrides=json.dumps(params_overrides),
            gradients_to_ignore=self.frozen_parameters(),
        )
        method, target = compression_env
        layer = getattr(elmo_lstm(self.model).forward_layer_0, "input_linearity" if target == "W_i" else "state_linearity")
        assert type(layer) is (MaskedLinear if method == "prune" else LowRankLinear)

    def frozen_parameters(self):
        # ELMo is frozen; BCN's pooling bias feeds a softmax, which is shift-invariant: its gradient is 0.
        frozen = {name for name, p in self.model.named_parameters() if not p.requires_grad}
        return frozen | {"_self_attentive_pooling_projection.bias"}


def test_archive_reloads_with_identical_parameter_count(elmo_env, monkeypatch, tmp_path):
    for name, value in {"METHOD": "svd", "TARGET": "both", "RANK": "2"}.items():
        monkeypatch.setenv(name, value)
    model = train_model_from_file(str(CONFIGS["token_embedder"]), str(tmp_path / "run"))
    archive = load_archive(str(tmp_path / "run" / "model.tar.gz"))
    assert count_parameters(archive.model) == count_parameters(model)
    lstm = elmo_lstm(archive.model)
    assert lstm.forward_layer_1.input_linearity.weight_u.shape == (128, 2)
    for name, tensor in model.state_dict().items():
        assert (archive.model.state_dict()[name] == tensor).all(), name
