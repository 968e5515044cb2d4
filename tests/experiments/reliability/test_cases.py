"""Every bad input of the table gives its one clear error, leaves nothing behind, and is documented as it is."""
import pytest

from experiments import REPO_ROOT
from experiments.reliability.cases import CASES
from experiments.reliability.document import case_rows, cell, seen
from experiments.reliability.running import run_case, shown

DOCUMENT = REPO_ROOT / "docs" / "reliability.md"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_clear_error(case, reliability_workspace):
    outcome = run_case(case, reliability_workspace)
    assert outcome.as_expected(case), (outcome.error, outcome.exit_code, outcome.message)
    if case.argv is not None:
        assert not any(line.startswith("Traceback") or " - INFO - " in line for line in outcome.stderr)
        if case.expect:  # an error: one line, argparse-style
            assert outcome.message.startswith("allennlp compress: error: ")
    assert outcome.left_behind == ([] if case.expect else ["compressed.tar.gz"])
    documented = case_rows(DOCUMENT.read_text())
    assert documented.get(case.id) == cell(shown(seen(case, outcome), reliability_workspace)), \
        "docs/reliability.md is out of date: python -m scripts.reliability_report"


def test_case_ids_are_unique():
    assert len({case.id for case in CASES}) == len(CASES)
