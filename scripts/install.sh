#!/usr/bin/env bash
# Create the project's virtual environment (default .venv) with AllenNLP 2.10.1 on CPython 3.11
# and torch 2.13.0 (CPU), then install this package in editable mode and its start-up hook.
#
# allennlp 2.10.1's metadata pins torch<1.13, which has no CPython 3.11 wheels, so allennlp,
# allennlp-models and transformers are installed with --no-deps and their real runtime
# requirements come from requirements.txt at the exact versions of constraints.txt.
# allennlp_lstmfact_compat repairs what breaks on torch 2.13 / Python 3.11 (see its docstring);
# a .pth file puts it in effect for every Python process of the venv, the plain `allennlp` CLI
# included.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
start=$(date +%s)

"$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
# Pinned: an unpinned torch would pull a multi-GB CUDA build.
pip install -c constraints.txt "torch==2.13.0" setuptools
pip install --no-deps "allennlp==2.10.1" "allennlp-models==2.10.1" "transformers==4.25.1"
pip install -r requirements.txt -c constraints.txt
pip install -r requirements-sweep.txt -c constraints.txt   # optional Ray dispatch of sweeps (tests/experiments/sweep)
pip install --no-deps --no-build-isolation -e .

site_packages=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "import allennlp_lstmfact_compat.startup" > "$site_packages/lstmfact_compat.pth"
"$VENV/bin/python" -c "import allennlp_lstmfact_compat, allennlp_lstmfact.core"
touch "$VENV/.installed"
echo "installed $VENV in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
