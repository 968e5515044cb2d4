"""
Sweeps over the grid of Winata et al. 2019 (method × target × rank × seed × fine-tuning) through
stock AllenNLP commands, into a tidy CSV (`scripts/sweep.py` is the command line; the report made
from the CSV is `experiments.report`).

- `grid`: `GridSpec` (a JSON/YAML grid), `Cell`, `expand_grid`; `presets`: grids of the CPU tasks.
- `jobs`: the commands of each run, resumable; local parallel dispatch. `ray_dispatch`: the same
  jobs as Ray tasks. `runner.run_sweep`: runs a grid and writes the tidy CSV (`results`).
- `measure`: parameters, forward timing and reconstruction error of one archive (a command).

The package imports nothing heavy at import time: Ray workers import `jobs` alone.
"""
