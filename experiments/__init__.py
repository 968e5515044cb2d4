"""
The project's experiments, kept out of the installed library: `setup.py` installs
`allennlp_lstmfact` only, and the library never imports this package. Run from the repository
root, whose `scripts/` holds the command lines (`python -m scripts.<name>`).

- `sweep`: grids (task × method × target × rank × seed × fine-tuning) run through stock AllenNLP
  commands, locally or on Ray, into a tidy CSV.
- `report`: `docs/results.md` from the sweep CSVs: the tables of Winata et al. 2019 with its
  published numbers beside ours (`report.winata2019_published`), its findings checked.
- `norms`: the norm analysis of Winata et al. 2019 (§4.4, Figures 2–4).
- `lm_methods`: the method study on a trained AWD-LSTM (every compression method at equal
  parameters, staged vs one-shot, vocabulary compression, rank selection); Table 1 of Winata et
  al. 2019 is one of its presets.
- `elmo_tasks`: each ELMo task once at CPU scale; `bilm_training`: the project's own biLM recipe;
  `run_summary`: a trained run in Markdown.
- `reliability`: the table of bad inputs and the fault scenarios behind `docs/reliability.md`.
- `markdown`, `plotting`: the Markdown tables and figures all of them write.
"""
from pathlib import Path

# The source checkout this package lives in: the configs, docs and data paths are relative to it.
REPO_ROOT = Path(__file__).resolve().parent.parent
