"""
Train an ELMo-architecture biLM (default: the PTB CPU preset), export it as the ELMo files stock
`allennlp.modules.elmo.Elmo` loads, check them, and report perplexities.

    LSTMFACT_DATA=../shared/data .venv/bin/python scripts/train_bilm.py         # -> runs/bilm_ptb/
    LSTMFACT_DATA=../shared/data .venv/bin/python scripts/train_bilm.py         # again: resumes or reuses

Training is stock `allennlp train` (seeded config, tqdm progress, a checkpoint every 10 minutes and
each epoch, perplexity per epoch in metrics_epoch_*.json, test perplexity in metrics.json); a run
interrupted in the same folder resumes from its last checkpoint. Written into the folder:
model.tar.gz, config.json (the exact options), elmo/options.json + elmo/weights.hdf5, bilm_report.json.
"""
import argparse
import json
import logging
import os

import torch
from allennlp.common.plugins import import_plugins

from allennlp_lstmfact.bilm.pipeline import bilm_run_report, export_archive, train_bilm

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training_configs/bilm/elmo_bilm_ptb_small.jsonnet")
    parser.add_argument("-s", "--serialization-dir", default="runs/bilm_ptb")
    parser.add_argument("--num-epochs", type=int, default=1, help="NUM_EPOCHS for the config (1: ~40 min on 1 CPU thread)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("-o", "--overrides", default="", help="JSON overrides of the config (as allennlp train -o)")
    parser.add_argument("--force", action="store_true", help="train from scratch even if the folder holds a run")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s")
    torch.set_num_threads(args.threads)
    os.environ["NUM_EPOCHS"] = str(args.num_epochs)
    import_plugins()

    archive = train_bilm(args.config, args.serialization_dir, overrides=args.overrides, force=args.force)
    options_file, weight_file = export_archive(archive, os.path.join(args.serialization_dir, "elmo"))
    report = bilm_run_report(args.serialization_dir, options_file, weight_file)
    with open(os.path.join(args.serialization_dir, "bilm_report.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report, indent=2))
