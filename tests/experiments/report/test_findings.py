"""The four findings of Winata et al. 2019 checked by paired comparisons over seeds, judged against their spread."""
import pytest

from experiments.report.findings import nuclear_norm_finding, sweep_findings
from experiments.report.paired import PairedDifference, paired_difference


def lm_row(method, target, rank, value, fine_tuned=False, seed=1):
    return {"task": "ptb", "method": method, "target": target, "rank": rank, "seed": seed, "fine_tuned": fine_tuned,
            "metric": "perplexity", "value": value, "lower_is_better": True}


def seeds(method, target, rank, values, fine_tuned=False):
    return [lm_row(method, target, rank, value, fine_tuned, seed) for seed, value in enumerate(values, 1)]


def test_paired_differences_are_judged_against_two_standard_errors():
    assert paired_difference({1: 3.0, 2: 5.0, 3: 4.0}, {1: 1.0, 2: 2.0, 4: 9.0}).differences == (2.0, 3.0)
    assert paired_difference({1: 1.0}, {2: 1.0}) is None
    clear = PairedDifference((2.0, 3.0, 2.5))  # mean 2.5, SE 0.289
    assert clear.verdict == "holds" and clear.standard_error == pytest.approx(0.5 / 3 ** 0.5)
    assert PairedDifference((-2.0, -3.0, -2.5)).verdict == "does not hold"
    assert PairedDifference((1.0, -0.5, 0.8)).verdict == "within noise"  # mean 0.43, SE 0.46
    assert PairedDifference((5.0,)).verdict == "one seed" and PairedDifference((5.0,)).format() == "5.00 (1 seed)"
    assert clear.format() == "2.50 ± 0.29 (SE, 3 seeds)"


def test_findings_count_each_verdict_of_their_paired_comparisons():
    rows = [*seeds("none", "", None, [100.0, 101.0, 99.0]),
            # SVD r=10: W_h better than W_i on every seed by 28-32 -> holds
            *seeds("svd", "W_h", 10, [120.0, 121.0, 119.0]), *seeds("svd", "W_i", 10, [150.0, 149.0, 151.0]),
            # SVD r=50: W_h better by +5, -3, +1 -> within noise
            *seeds("svd", "W_h", 50, [105.0, 110.0, 106.0]), *seeds("svd", "W_i", 50, [110.0, 107.0, 107.0]),
            # pruning r=10: W_h worse on every seed -> does not hold
            *seeds("prune", "W_h", 10, [130.0, 131.0, 133.0]), *seeds("prune", "W_i", 10, [125.0, 125.0, 126.0]),
            # fine-tuning of SVD W_h r=10 on one seed only
            lm_row("svd", "W_h", 10, 110.0, True)]
    w_h, mf, recovers = sweep_findings(rows)
    assert w_h.counts == {"holds": 1, "does not hold": 1, "within noise": 1, "one seed": 0}
    assert w_h.verdict == "holds: 1, does not hold: 1, within noise: 1"
    assert any(text.startswith("✗ Pruning  r=10: perplexity W_h 131.33 vs W_i 125.33 (difference -6.00 ± ")
               for text in w_h.examples)
    # smallest rank 10: SVD W_h 120 vs pruning 131.3 (holds), SVD W_i 150 vs pruning 125.3 (does not hold)
    assert mf.counts == {"holds": 1, "does not hold": 1, "within noise": 0, "one seed": 0}
    assert recovers.counts["one seed"] == 1 and recovers.verdict == "one seed"
    assert "**W_h is more compressible than W_i: holds: 1, does not hold: 1, within noise: 1** (of 3 comparisons)" \
        in w_h.to_markdown()


def test_accuracy_differences_are_in_points():
    rows = [{"task": "sst5", "method": method, "target": "W_h", "rank": 10, "seed": seed, "fine_tuned": tuned,
             "metric": "accuracy", "value": value, "lower_is_better": False}
            for seed, (before, after) in enumerate([(0.40, 0.43), (0.41, 0.45), (0.40, 0.44)], 1)
            for method, tuned, value in (("svd", False, before), ("svd", True, after))]
    recovers = sweep_findings(rows)[2]
    assert recovers.verdict == "holds" and "difference 3.67 ± 0.33 (SE, 3 seeds)" in recovers.examples[0]


def test_the_means_shown_are_over_the_seeds_compared():
    # post-hoc on seeds 1-3, fine-tuned on seeds 1-2 only: both means over seeds 1 and 2
    rows = [*seeds("svd", "W_h", 10, [120.0, 122.0, 200.0]), *seeds("svd", "W_h", 10, [110.0, 114.0], fine_tuned=True)]
    recovers = sweep_findings(rows)[2]
    assert recovers.examples == ["✓ SVD W_h r=10: 121.00 → 112.00 with FT (difference 9.00 ± 1.00 (SE, 2 seeds): holds)"]


def test_nuclear_norm_finding_reads_the_uncompressed_means():
    means = {("W_i", "none", 0): {"nuclear": 30.0}, ("W_h", "none", 0): {"nuclear": 12.0}}
    assert nuclear_norm_finding(means, "lm").verdict == "holds"
    assert nuclear_norm_finding({("W_i", "none", 0): {"nuclear": 1.0}, ("W_h", "none", 0): {"nuclear": 2.0}},
                                "lm").verdict == "does not hold"
    assert nuclear_norm_finding({}, "lm").verdict == "not tested"
