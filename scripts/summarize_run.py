"""Print a run's compression table, parameters before/after, and test metrics (Markdown)."""
import argparse

from allennlp.common.plugins import import_plugins

from allennlp_lstmfact.reporting import summarize_run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("serialization_dir", help="an `allennlp train -s` output folder (with model.tar.gz)")
    import_plugins()
    print(summarize_run(parser.parse_args().serialization_dir))
