# The two commands a newcomer needs (both set up .venv first, once):
#   make demo   train + evaluate a small BCN/SST-5 model with an SVD-compressed ELMo
#   make test   the test suite
# LSTMFACT_DATA names a folder with local copies of the datasets (default ../shared/data when it
# exists); without it the configs read the datasets' public URLs.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export LSTMFACT_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: setup demo test test-fast clean report evidence-wt2

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

# The evidence behind docs/results.md, one resumable command per grid (rerun it after a stop):
#   make evidence-sst5 / evidence-snli / evidence-squad   BCN, ESIM, BiDAF with the project's biLM
#                                                          (artifacts/bilm_unlabeled), controls included
#   make evidence-sst5-lstm-mix                            BCN whose ELMo mix is its LSTM layers only (ELMO_MIX)
#   make evidence-sst5-probe                               a linear probe of ELMo's LSTM layers (no context of its own)
#   make evidence-wt2                                      the AWD-LSTM CPU preset on WikiText-2 (Table 2)
#   make report                                            docs/results.md from the committed CSVs
BILM := artifacts/bilm_unlabeled
CONTROL_ELMO := runs/bilm_unlabeled_controls/weights.hdf5
EVIDENCE_WORKERS ?= $(shell nproc)

$(CONTROL_ELMO): $(BILM)/weights.hdf5 | setup
	$(PYTHON) -m scripts.untrained_lstm_elmo $(BILM)/options.json $(BILM)/weights.hdf5 -o $(dir $@) --seed 13370

# $(call sweep,GRID,CSV): run or resume training_configs/sweeps/GRID.json into docs/sweeps/CSV.csv
sweep = $(PYTHON) -m scripts.sweep training_configs/sweeps/$(1).json --csv docs/sweeps/$(2).csv \
	  --workers $(EVIDENCE_WORKERS) --threads 1

evidence-%: $(CONTROL_ELMO) | setup
	$(call sweep,$*_unlabeled_bilm,$*_unlabeled_bilm)

# Grids beside the standard SST-5 one, named as their spec with - for _ (evidence-sst5-lstm-mix: sst5_lstm_mix.json).
EVIDENCE_SST5_VARIANTS := evidence-sst5-lstm-mix evidence-sst5-probe
.PHONY: $(EVIDENCE_SST5_VARIANTS)
$(EVIDENCE_SST5_VARIANTS): evidence-%: $(CONTROL_ELMO) | setup
	$(call sweep,$(subst -,_,$*),$(subst -,_,$*))

evidence-wt2: setup
	$(call sweep,wt2_cpu,wt2)

report: setup
	$(PYTHON) -m scripts.make_report
