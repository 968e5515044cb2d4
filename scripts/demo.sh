#!/usr/bin/env bash
# The demo: train BCN + ELMo on SST-5 (small CPU preset) with ELMo's W_h compressed by SVD,
# evaluate the archive with stock `allennlp evaluate`, and print parameters and accuracy.
# AllenNLP's own output shows as it comes (the training log is also in $out/out.log).
# METHOD / TARGET / RANK / LAYERS choose the compression (defaults: svd, W_h, 4).
set -euo pipefail
cd "$(dirname "$0")/.."
export METHOD="${METHOD:-svd}" TARGET="${TARGET:-W_h}" RANK="${RANK:-4}"
config=training_configs/classification/bcn_elmo_small.jsonnet
out="${OUT:-runs/demo-$METHOD-$TARGET-r$RANK}"
data="${LSTMFACT_DATA:-}"
test_file="${data:+$data/sst/test.txt}"
test_file="${test_file:-https://allennlp.s3.amazonaws.com/datasets/sst/test.txt}"
start=$(date +%s)

echo "== training $config ($METHOD on ELMo $TARGET, rank $RANK) -> $out"
rm -rf "$out" && mkdir -p "$(dirname "$out")"
allennlp train "$config" -s "$out"
echo "== evaluating $out/model.tar.gz on $test_file"
allennlp evaluate "$out/model.tar.gz" "$test_file" --output-file "$out/test_metrics.json"
echo "== summary"
python -m scripts.summarize_run "$out"
echo "== the demo took $(( $(date +%s) - start )) s"
