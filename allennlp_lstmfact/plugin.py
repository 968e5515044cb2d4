"""
Registers every AllenNLP component of this package, sets the defaults of the variables the
shipped jsonnet configs read with `std.extVar` (`allennlp_lstmfact.config_defaults`) and torch's
thread count (`allennlp_lstmfact.threads`).
"""
import allennlp_lstmfact_compat

allennlp_lstmfact_compat.apply_all()

from allennlp_lstmfact import callbacks, commands, elmo, predictors, task_lstms  # noqa: E402,F401  (registrations)
from allennlp_lstmfact import bilm  # noqa: E402,F401  (registrations: elmo_bilm, bilm_sentences)
from allennlp_lstmfact.bilm import distillation  # noqa: E402,F401  (registration: elmo_distillation)
from allennlp_lstmfact import lm  # noqa: E402,F401  (registrations: the AWD-LSTM language model)
from allennlp_lstmfact.config_defaults import CONFIG_DEFAULTS, apply_config_defaults  # noqa: E402,F401
from allennlp_lstmfact.threads import apply_default_threads  # noqa: E402

apply_config_defaults()
apply_default_threads()
