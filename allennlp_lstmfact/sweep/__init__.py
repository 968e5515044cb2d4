"""
Sweeps over seed 001's grid (method × target × rank × seed × fine-tuning) through stock AllenNLP
commands, and the tables and report made from their CSV.

- `grid`: `GridSpec` (a JSON/YAML grid), `Cell`, `expand_grid`; `presets`: grids of the CPU tasks.
- `jobs`: the commands of each run, resumable; local parallel dispatch. `ray_dispatch`: the same
  jobs as Ray tasks. `runner.run_sweep`: runs a grid and writes the tidy CSV (`results`).
- `measure`: parameters, forward timing and reconstruction error of one archive (a command).
- `tables`, `paper`, `report`: seed 001's tables from the CSV, its numbers, `docs/results.md`.

The package imports nothing heavy at import time: Ray workers import `jobs` alone.
"""
