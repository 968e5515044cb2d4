#!/usr/bin/env bash
# Create the project's virtual environment (default .venv) with AllenNLP 2.10.1 on CPython 3.11
# and torch 2.13.0 (CPU), and install this package in editable mode.
#
# allennlp 2.10.1's metadata pins torch<1.13, which has no CPython 3.11 wheels, so pip's resolver
# cannot install it: the requirement files list every distribution at its exact version (the whole
# closure, checked by tests/test_requirements.py) and are installed as they are, with --no-deps, so
# pip resolves nothing and prints no resolver errors. The .pth start-up hook that puts
# allennlp_lstmfact_compat in effect in every Python process of the venv is a data file of the
# package, which setuptools' editable installs leave out: it is copied into site-packages here.
# PYTHON: the CPython 3.11 to use; PIP_* variables (e.g. PIP_FIND_LINKS) reach pip as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
start=$(date +%s)

"$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install --no-deps -r requirements.txt -r requirements-experiments.txt -r requirements-sweep.txt
pip install --no-deps --no-build-isolation -e .
site_packages=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cp allennlp_lstmfact_compat/lstmfact_compat.pth "$site_packages/"
"$VENV/bin/python" -c "import sys, allennlp_lstmfact.core; assert 'allennlp_lstmfact_compat.startup' in sys.modules, 'no start-up hook'"
touch "$VENV/.installed"
echo "installed $VENV in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
