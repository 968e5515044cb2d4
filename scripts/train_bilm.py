"""
Train an ELMo-architecture biLM (default: the PTB CPU preset), export it as the ELMo files stock
`allennlp.modules.elmo.Elmo` loads, check them, and report perplexities.

    LSTMFACT_DATA=../shared/data .venv/bin/python -m scripts.train_bilm         # -> runs/bilm_ptb/
    LSTMFACT_DATA=../shared/data .venv/bin/python -m scripts.train_bilm         # again: resumes or reuses
    LSTMFACT_DATA=../shared/data .venv/bin/python -m scripts.train_bilm --preset unlabeled  # -> runs/bilm_unlabeled/

Presets (`--config`, `-s`, `--num-epochs`, `--threads` override theirs):
  ptb        training_configs/bilm/elmo_bilm_ptb_small.jsonnet: PTB train, 1 epoch, 1 thread
  unlabeled  training_configs/bilm/elmo_bilm_unlabeled.jsonnet: all the shared data's unlabeled text
             no downstream test uses (PTB train, WikiText-2 valid, SST-5 train, SNLI dev, SQuAD
             train sample), 2 epochs (~1.5 h on a quiet machine), 2 threads; perplexity reported
             on PTB test and WikiText-2 test
Rerun the same command to resume: the config (epochs included) must not change between runs.

Training is stock `allennlp train` (seeded config, tqdm progress, a checkpoint every 10 minutes and
each epoch, perplexity per epoch in metrics_epoch_*.json, test perplexity in metrics.json); a run
interrupted in the same folder resumes from its last checkpoint. Written into the folder:
model.tar.gz, config.json (the exact options), elmo/options.json + elmo/weights.hdf5, bilm_report.json.
"""
import argparse
import json
import logging
import os
import sys

import torch
from allennlp.common.plugins import import_plugins

from experiments.bilm_training import train_export_and_report


# preset -> (config, serialization dir, NUM_EPOCHS, torch threads, held-out corpora under LSTMFACT_DATA)
PRESETS = {
    "ptb": ("training_configs/bilm/elmo_bilm_ptb_small.jsonnet", "runs/bilm_ptb", 1, 1, {}),
    "unlabeled": ("training_configs/bilm/elmo_bilm_unlabeled.jsonnet", "runs/bilm_unlabeled", 2, 2,
                  {"wikitext2_test": ("wikitext", "wikitext-2/wiki.test.tokens")}),
}


# glibc hands freed large blocks (the softmax's logits, hundreds of MB a batch) back to the kernel and
# faults them in again, zeroed, on the next batch. Measured once here (2 threads, epoch 2 of the unlabeled
# preset): 227,000 page faults/s and 3.4 s a batch before a restart with the heap kept; after it, 200
# faults/s and 0.9-1.3 s a batch, creeping back to 48,000 faults/s and 1.3-1.6 s 300 batches later.
KEEP_HEAP = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(10 ** 11)}


def main() -> None:
    if any(os.environ.get(name) != value for name, value in KEEP_HEAP.items()):  # glibc reads them at start-up
        os.execve(sys.executable, [sys.executable, "-m", "scripts.train_bilm", *sys.argv[1:]], {**os.environ, **KEEP_HEAP})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="ptb", help="config, folder, epochs, threads")
    parser.add_argument("--config", help="the preset's config unless given")
    parser.add_argument("-s", "--serialization-dir", help="the preset's folder unless given")
    parser.add_argument("--num-epochs", type=int, help="NUM_EPOCHS for the config (the preset's unless given)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (ptb: 1, unlabeled: 2)")
    parser.add_argument("-o", "--overrides", default="", help="JSON overrides of the config (as allennlp train -o)")
    parser.add_argument("--force", action="store_true", help="train from scratch even if the folder holds a run")
    args = parser.parse_args()
    config, folder, epochs, threads, heldout = PRESETS[args.preset]
    args.config, args.serialization_dir = args.config or config, args.serialization_dir or folder
    args.num_epochs, args.threads = args.num_epochs or epochs, args.threads or threads
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s")
    torch.set_num_threads(args.threads)
    os.environ["NUM_EPOCHS"] = str(args.num_epochs)
    import_plugins()
    data = os.environ.get("LSTMFACT_DATA", "")
    heldout = {name: {corpus_format: os.path.join(data, path)}
               for name, (corpus_format, path) in heldout.items()} if data else {}
    report = train_export_and_report(args.config, args.serialization_dir, args.overrides, args.force, heldout)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
