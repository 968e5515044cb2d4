"""The norm analysis of Winata et al. 2019 (Figures 2–4) on the tiny ELMo: the numbers and the PNG files."""
import json

import pytest
import torch

from allennlp_lstmfact.core import matrix_norms
from experiments.norms import analyze, approximate, load_lstm_module, mean_norms, read_records
from experiments.report.document import write_report


@pytest.fixture(scope="module")
def norms(tiny_elmo, tmp_path_factory):
    figures = tmp_path_factory.mktemp("figures")
    source = ",".join(tiny_elmo)
    paths = analyze(load_lstm_module(source), "tiny", str(figures), ranks=[1, 4], source=source)
    return figures, paths


def test_figures_are_written(norms):
    _, paths = norms
    for kind in ("figure", "heatmap"):
        with open(paths[kind], "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n" and len(handle.read()) > 5000


def test_norms_of_every_matrix_method_and_rank(norms):
    _, paths = norms
    records = read_records(paths["csv"])
    assert len(records) == 8 * (1 + 3 * 2)  # 2 layers x 2 directions x (W_i, W_h); uncompressed + 3 methods x 2 ranks
    means = mean_norms(records)
    for kind in ("W_i", "W_h"):
        dense = means[(kind, "none", 0)]
        assert means[(kind, "svd", 1)]["nuclear"] < means[(kind, "svd", 4)]["nuclear"] < dense["nuclear"]
        assert means[(kind, "prune", 1)]["l1"] < means[(kind, "prune", 4)]["l1"] < dense["l1"]
    description = json.loads(open(paths["json"]).read())
    assert description["ranks"] == [1, 4] and len(description["matrices"]) == 8


def test_the_std_is_over_per_row_l1_norms():
    weight = torch.tensor([[1.0, -1.0], [0.0, 4.0]])  # row L1 norms 2 and 4
    assert matrix_norms(weight) == {"l1": 6.0, "l1_row_std": 1.0, "nuclear": pytest.approx(float(
        torch.linalg.svdvals(weight).sum()))}
    assert torch.linalg.matrix_rank(approximate(torch.randn(12, 6), "semi_nmf", 2)) <= 2
    assert int((approximate(torch.randn(12, 6), "prune", 2) != 0).sum()) == 2 * (12 + 6)


def test_report_includes_the_norm_analysis(norms, tmp_path):
    figures, paths = norms
    report = write_report([], str(tmp_path / "results.md"), str(figures))
    text = open(report).read()
    assert "No sweep CSV yet" in text and "### tiny" in text and "per-row L1 norms" in text
    assert "![norm analysis tiny](" in text and "| W_h |" in text
