"""
Print a run's compression table, parameters before/after, and test metrics (Markdown).

Usage (from the repository root): python -m scripts.summarize_run runs/demo-svd-W_h-r4
"""
import argparse

from allennlp.common.plugins import import_plugins

from experiments.run_summary import summarize_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("serialization_dir", help="an `allennlp train -s` output folder (with model.tar.gz)")
    args = parser.parse_args()
    import_plugins()
    print(summarize_run(args.serialization_dir))


if __name__ == "__main__":
    main()
