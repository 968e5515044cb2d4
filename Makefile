# The two commands a newcomer needs (both set up .venv first, once):
#   make demo   train + evaluate a small BCN/SST-5 model with an SVD-compressed ELMo
#   make test   the test suite
# LSTMFACT_DATA names a folder with local copies of the datasets (default ../shared/data when it
# exists); without it the configs read the datasets' public URLs.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export LSTMFACT_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: setup demo test test-fast clean

setup: $(VENV)/.installed

$(VENV)/.installed: scripts/install.sh requirements.txt requirements-experiments.txt requirements-sweep.txt setup.py
	VENV=$(VENV) bash scripts/install.sh

demo: setup
	PATH=$(abspath $(VENV))/bin:$$PATH bash scripts/demo.sh

test: setup
	$(PYTHON) -m pytest tests -q -p no:cacheprovider --durations=10

# The suite without the tests marked slow (pytest.ini): a quick check while working.
test-fast: setup
	$(PYTHON) -m pytest tests -q -p no:cacheprovider --durations=10 -m "not slow"

clean:
	rm -rf $(VENV) runs
