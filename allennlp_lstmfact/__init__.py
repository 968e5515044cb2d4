"""
allennlp-lstmfact: low-rank factorization (truncated SVD, Semi-NMF) and magnitude pruning of the
LSTM weight matrices of AllenNLP models (ELMo's biLSTM, LSTM language models).

`allennlp_lstmfact.core` is plain torch/numpy (no AllenNLP); importing `allennlp_lstmfact.plugin`
registers the AllenNLP components. Installed, the package is an AllenNLP plugin in every folder
(`allennlp_lstmfact_compat.plugin_discovery`), so `allennlp` commands import it themselves.
"""
