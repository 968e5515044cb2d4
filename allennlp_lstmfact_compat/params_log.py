"""
(10) `allennlp train` logs every configuration value (about 220 `allennlp.common.params` INFO
lines for BCN), drowning the lines that tell what the run does.

The `allennlp.common.params` logger is set to WARNING: its warnings still show, and the whole
configuration stays in the serialization directory's `config.json`.
"""
import logging
from types import ModuleType


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.common.params`.
    """
    logging.getLogger(module.__name__).setLevel(logging.WARNING)
