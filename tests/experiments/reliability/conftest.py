"""The reliability workspace (a tiny ELMo, a tiny ELMo classifier and a tiny AWD-LSTM), built once."""
import pytest

from experiments.reliability.workspace import build_workspace


@pytest.fixture(scope="session")
def reliability_workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("reliability") / "work")
