import csv

from experiments.markdown import HAND_WRITTEN_MARKER
from experiments.precision_accuracy import write_results


def test_changes_are_paired_within_each_archive_and_the_csv_keeps_every_archive(tmp_path):
    # two seeds whose levels differ by 10 points: unpaired the bf16 change would drown in that spread
    found = {("dense", "fp32"): {"value": [40.0, 50.0], "seconds": [2.0, 2.0], "mb": [9.0, 9.0]},
             ("dense", "bf16"): {"value": [39.0, 49.2], "seconds": [1.0, 1.0], "mb": [5.0, 5.0]},
             ("W_h r=10", "fp32"): {"value": [38.0, 48.0], "seconds": [1.5, 1.5], "mb": [6.0, 6.0]},
             ("W_h r=10", "bf16"): {"value": [38.5, 47.5], "seconds": [1.0, 1.0], "mb": [4.0, 4.0]}}
    out = tmp_path / "precision.md"
    out.write_text("old\n" + HAND_WRITTEN_MARKER + "\nkept by hand\n")
    text = write_results(found, ["a/model.tar.gz", "b/model.tar.gz"], "test.txt", "accuracy", 32, "T", str(out))
    lines = {" ".join(line.split(" | ")[:2]): line for line in text.splitlines() if line.startswith("| ")}
    assert "| -0.90 ± 0.10 (SE, 2 seeds) | -0.90 ± 0.10 (SE, 2 seeds) |" in lines["| dense bf16"]
    assert "| 0.00 ± 0.50 (SE, 2 seeds); within noise | -2.00 ± 0.50 (SE, 2 seeds) |" in lines["| W_h r=10 bf16"]
    assert "| – | – |" in lines["| dense fp32"]
    assert out.read_text().endswith(HAND_WRITTEN_MARKER + "\nkept by hand\n")
    with open(tmp_path / "precision.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["lstm"], row["precision"], row["archive"], float(row["accuracy"])) for row in rows][:2] == [
        ("dense", "fp32", "a/model.tar.gz", 40.0), ("dense", "fp32", "b/model.tar.gz", 50.0)]
    assert len(rows) == 8
