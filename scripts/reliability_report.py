"""
Run every bad input of the reliability table and every fault scenario, and write docs/reliability.md
(keeping its hand-written part): what the user sees for each (about 3 minutes on one CPU: two tiny
trainings, then the cases, then the faults, which start real `allennlp` processes).

Usage (from the repository root): python -m scripts.reliability_report [--output docs/reliability.md]
"""
import argparse
import tempfile
from pathlib import Path

import allennlp_lstmfact.plugin  # noqa: F401  (registrations, config defaults)
from experiments import REPO_ROOT
from experiments.markdown import write_generated_markdown
from experiments.reliability.cases import CASES
from experiments.reliability.document import render
from experiments.reliability.faults import SCENARIOS, describe
from experiments.reliability.running import run_case, shown
from experiments.reliability.workspace import build_workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--output", default=str(REPO_ROOT / "docs" / "reliability.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = build_workspace(Path(folder) / "work")
        results = [(case, run_case(case, workspace)) for case in CASES]
        faults = []
        for name, scenario in SCENARIOS.items():
            faults.append(scenario(workspace, workspace.root / "faults" / name))
            print(describe(faults[-1]), flush=True)
        write_generated_markdown(args.output, render(results, faults, lambda text: shown(text, workspace)))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
