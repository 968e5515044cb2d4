"""
The project's command lines. Run them from the repository root as modules, e.g.
`python -m scripts.sweep --help`, so that they import `experiments` (not installed) from there.
"""
