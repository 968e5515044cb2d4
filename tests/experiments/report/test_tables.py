"""The tables of Winata et al. 2019 from a sweep CSV: over seeds, in display units, the published numbers beside."""
import csv

import pytest

from experiments.report.tables import format_mean_std, summarize, summary_table, table_columns, write_summary_csv
from experiments.sweep.results import read_rows, write_rows


def row(method, seed, value, rank=None, fine_tuned=False, efficiency=None, params=1000):
    return {"task": "sst5", "method": method, "target": "" if method == "none" else "W_h", "rank": rank, "seed": seed,
            "fine_tuned": fine_tuned, "params": params, "metric": "accuracy", "value": value,
            "lower_is_better": False, "efficiency": efficiency, "forward_ratio": 0.8 if rank else 1.0,
            "rel_error_mean": 0.25 if rank else None, "run": f"{method}-{seed}"}


@pytest.fixture
def tiny_csv(tmp_path):
    rows = [row("none", 1, 0.55), row("none", 2, 0.53),
            row("svd", 1, 0.50, 10, efficiency=0.2, params=600), row("svd", 2, 0.52, 10, efficiency=0.1, params=600),
            row("svd", 1, 0.54, 10, True, efficiency=0.05, params=600),
            row("prune", 1, 0.40, 10, efficiency=0.9, params=600)]
    path = tmp_path / "sst5.csv"
    write_rows(rows, str(path))
    return str(path)


def test_mean_and_std_over_seeds():
    assert format_mean_std([50.0, 52.0]) == "51.00 ± 1.41"  # sample std (n − 1)
    assert format_mean_std([0.2], 3) == "0.200"
    assert format_mean_std([]) == "–"


def test_table_in_the_format_of_winata2019(tiny_csv, tmp_path):
    rows = read_rows(tiny_csv)
    assert rows[2]["rank"] == 10 and rows[2]["fine_tuned"] is False and rows[0]["efficiency"] is None
    summary = summarize(rows, "sst5")
    assert [line.name for line in summary] == ["uncompressed", "SVD W_h (r=10)", "Pruning W_h (r=10)"]
    table = summary_table(table_columns(summary, "accuracy (%)", "sst5"))
    lines = table.splitlines()
    assert lines[0] == ("| model | params | accuracy (%) w/o FT | E(r) w/o FT | accuracy (%) w/ FT | E(r) w/ FT | "
                        "Winata et al. 2019 accuracy (%) | Winata et al. 2019 E(r) | forward time ratio | rel. error | "
                        "seeds |")
    assert lines[2] == "| BCN + ELMo | 1,000 | 54.00 ± 1.41 | – | – | – | 54.50 | – | 1.00 ± 0.00 | – | 2 |"
    assert lines[3] == ("| SVD W_h (r=10) | 600 | 51.00 ± 1.41 | 0.150 ± 0.071 | 54.00 | 0.050 | 50.40 | 0.270 | "
                        "0.80 ± 0.00 | 0.2500 ± 0.0000 | 2 |")
    assert lines[4].startswith("| Pruning W_h (r=10) | 600 | 40.00 | 0.900 | – | – | 50.81 | 0.250 |")
    write_summary_csv(summary, str(tmp_path / "table.csv"), "%")
    with open(tmp_path / "table.csv") as handle:
        table_rows = list(csv.DictReader(handle))
    assert float(table_rows[1]["value_mean"]) == pytest.approx(51.0) and table_rows[1]["paper_value"] == "50.4"


def test_perplexity_is_not_scaled():
    rows = [dict(row("none", 1, 58.3), metric="perplexity", lower_is_better=True)]
    assert summarize(rows)[0].value == {1: 58.3}


def test_controls_follow_the_baseline_and_losses_are_shares_of_the_lstm_contribution():
    from experiments.report.controls import contribution_lines, contributions

    rows = [row("none", 1, 0.50), row("none", 2, 0.52), row("none", 3, 0.51),
            *(dict(row("char_cnn_only", seed, value), target="") for seed, value in ((1, 0.45), (2, 0.46), (3, 0.46))),
            *(dict(row("no_elmo", seed, value), target="") for seed, value in ((1, 0.40), (2, 0.41), (3, 0.40))),
            row("svd", 1, 0.49, 10), row("svd", 2, 0.50, 10), row("svd", 3, 0.49, 10)]
    found = contributions(rows)
    assert found.lstm.differences == pytest.approx((5.0, 6.0, 5.0)) and found.lstm.verdict == "holds"
    assert found.elmo.mean == pytest.approx(32 / 3) and found.char_cnn_share == pytest.approx(0.5)
    assert contribution_lines(found, "points")[1].startswith("Δ_LSTM = full − char CNN only (LSTM untrained): 5.33 ± 0.33")
    # no_elmo as good as the full model on average, by +6, -4, -2 points: no share of a Δ_ELMo within noise
    noisy = contributions([dict(r, value=value) if r["method"] == "no_elmo" else r
                           for r, value in zip(rows, [None] * 6 + [0.44, 0.56, 0.53] + [None] * 3)])
    assert noisy.elmo.verdict == "within noise" and noisy.char_cnn_share is None
    assert contribution_lines(noisy, "points")[-1] == \
        "the char CNN's share of what ELMo adds: none stated (Δ_ELMo: within noise)"
    summary = summarize(rows, "sst5")
    assert [line.name for line in summary] == ["uncompressed", "char CNN only, LSTM untrained (control)",
                                               "no ELMo (control)", "SVD W_h (r=10)"]
    columns = dict(table_columns(summary, "accuracy (%)", None, found.lstm))
    # svd loses 51.00 - 49.33 = 1.67 points of Δ_LSTM 5.33: 31 %
    assert columns["loss / Δ_LSTM w/o FT"] == ["–", "–", "–", "31 %"]


def test_the_figure_draws_the_baseline_and_controls_as_lines(tmp_path):
    from experiments.report.document import plot_metric_vs_rank

    rows = [row("none", 1, 0.50), dict(row("no_elmo", 1, 0.40), target=""), row("svd", 1, 0.49, 10),
            row("svd", 1, 0.45, 2)]
    path = plot_metric_vs_rank(rows, str(tmp_path / "f.png"), "toy", "accuracy (%)")
    assert (tmp_path / "f.png").stat().st_size > 1000 and path.endswith("f.png")


def test_a_cell_missing_a_seed_is_compared_with_the_baseline_of_its_own_seeds():
    from experiments.report.controls import contributions

    rows = [*(row("none", seed, value) for seed, value in ((1, 0.50), (2, 0.52), (3, 0.57))),
            *(dict(row("char_cnn_only", seed, value), target="") for seed, value in ((1, 0.46), (2, 0.48), (3, 0.53))),
            row("svd", 1, 0.49, 10), row("svd", 2, 0.51, 10)]
    found = contributions(rows)
    assert found.lstm.mean == pytest.approx(4.0)
    columns = dict(table_columns(summarize(rows), "accuracy (%)", None, found.lstm))
    # seeds 1 and 2 lose 1 point each: 25 % of Δ_LSTM (the unpaired 53.00 − 50.00 would say 75 %)
    assert columns["loss / Δ_LSTM w/o FT"][-1] == "25 %"


def test_the_overview_lists_each_grid_with_both_controls():
    from experiments.report.controls import contributions_table

    rows = [*(row("none", seed, value) for seed, value in ((1, 0.50), (2, 0.52), (3, 0.51))),
            *(dict(row("char_cnn_only", seed, value), target="") for seed, value in ((1, 0.45), (2, 0.46), (3, 0.46))),
            *(dict(row("no_elmo", seed, value), target="") for seed, value in ((1, 0.52), (2, 0.55), (3, 0.54)))]
    table = contributions_table([("sst5", rows), ("no controls", rows[:3])]).splitlines()
    assert len(table) == 3  # header, rule, one grid
    # Δ_ELMo: -2, -3, -3 (ELMo hurts, by > 2 SE); Δ_LSTM: 5, 6, 5; no char CNN share of a negative Δ_ELMo
    assert table[2] == ("| sst5 | accuracy | 51.00 | 45.67 | 53.67 | -2.67 ± 0.33 (below 0) | +5.33 ± 0.33 (above 0) "
                        "| – | 3 |")
    assert contributions_table([("no controls", rows[:3])]) is None
