"""The four findings of Winata et al. 2019 checked by paired comparisons, with verdicts."""
from experiments.report.findings import nuclear_norm_finding, sweep_findings


def lm_row(method, target, rank, value, fine_tuned=False, seed=1):
    return {"task": "ptb", "method": method, "target": target, "rank": rank, "seed": seed, "fine_tuned": fine_tuned,
            "metric": "perplexity", "value": value, "lower_is_better": True}


def test_findings_count_paired_comparisons_and_give_verdicts():
    rows = [lm_row("none", "", None, 100.0),
            # W_h better than W_i for SVD at both ranks, worse for pruning at r=10 (over two seeds: mean 130)
            lm_row("svd", "W_h", 10, 120.0), lm_row("svd", "W_i", 10, 150.0),
            lm_row("svd", "W_h", 50, 105.0), lm_row("svd", "W_i", 50, 110.0),
            lm_row("prune", "W_h", 10, 125.0), lm_row("prune", "W_h", 10, 135.0, seed=2), lm_row("prune", "W_i", 10, 128.0),
            # fine-tuning: helps SVD W_h r=10, hurts SVD W_i r=10
            lm_row("svd", "W_h", 10, 110.0, True), lm_row("svd", "W_i", 10, 151.0, True)]
    w_h, mf, recovers = sweep_findings(rows)
    assert (w_h.outcomes, w_h.verdict) == ([False, True, True, True], "holds")  # 3 of 4 = 75 %
    assert "Pruning  r=10: perplexity W_h 130.00 vs W_i 128.00" in w_h.examples[0]
    # smallest rank 10: SVD W_h 120 < pruning 130, SVD W_i 150 > pruning 128; FT cells have no pruning partner
    assert (mf.outcomes, mf.verdict) == ([True, False], "mixed")
    assert (recovers.outcomes, recovers.verdict) == ([True, False], "mixed")
    assert sweep_findings([r for r in rows if not (r["target"] == "W_i" and r["method"] == "svd")])[0].verdict \
        == "does not hold"
    assert "**fine-tuning recovers: mixed** (1 of 2 comparisons)" in recovers.to_markdown()


def test_nuclear_norm_finding_reads_the_uncompressed_means():
    means = {("W_i", "none", 0): {"nuclear": 30.0}, ("W_h", "none", 0): {"nuclear": 12.0}}
    assert nuclear_norm_finding(means, "lm").verdict == "holds"
    assert nuclear_norm_finding({}, "lm").verdict == "not tested"
