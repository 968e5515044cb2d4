"""
The method study on a trained AWD-LSTM archive (`scripts/lm_method_study.py`): LSTM and vocabulary
compression methods compared on one model at equal parameters, each configuration a cached cell,
one row type (`rows.StudyRow`) in one CSV and one Markdown file per preset (`settings.PRESETS`):

- `methods`: every LSTM method at the budget of rank r (Winata et al. 2019's SVD, Semi-NMF and
  pruning, Gupta et al. 2024's Monarch, and more), staged vs one-shot compression, GroupReduce
  (Chen et al. 2018) vs SVD vs pruning of the embedding/softmax, rank selection
  (`docs/lm_methods.md`);
- `winata2019_table1`: Table 1 of Winata et al. 2019, W_i vs W_h by SVD, Semi-NMF and pruning at
  several ranks, batch-1 perplexity and test time (`docs/lm_ptb_compression.md`).

Modules: `settings` (what is measured, the presets), `cells` (how each cell is measured),
`models` (compressed copies, fine-tuning), `rows` (the row, its CSV, the cell cache), `study`
(running and writing), `document` (the Markdown file), `figure`, and `timing` (inference time
of dense vs compressed models, `scripts/lm_inference_timing.py`).
"""
