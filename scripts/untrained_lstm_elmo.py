"""
Write the "char CNN only" control of an ELMo: its trained character CNN with the LSTM weights an
`elmo_bilm` training starts from (`--seed`: the training config's `init_seed`), as
DIR/options.json + DIR/weights.hdf5. The sweeps' `char_cnn_only` control points ELMO_WEIGHTS at it.

Usage (from the repository root):
  .venv/bin/python -m scripts.untrained_lstm_elmo artifacts/bilm_unlabeled/options.json \
      artifacts/bilm_unlabeled/weights.hdf5 -o runs/bilm_unlabeled_controls --seed 13370
"""
import argparse
import os

from allennlp_lstmfact.bilm.weights import write_untrained_lstm_elmo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("options_file")
    parser.add_argument("weight_file")
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--seed", type=int, default=0, help="the biLM training's init_seed (default 0)")
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)
    options, weights = (os.path.join(args.output_dir, name) for name in ("options.json", "weights.hdf5"))
    write_untrained_lstm_elmo(args.options_file, args.weight_file, options, weights, seed=args.seed)
    print(f"wrote {options} and {weights}")


if __name__ == "__main__":
    main()
