"""
(9) Every `allennlp` command prints eight `[nltk_data] Error loading punkt ... refusing to connect`
lines.

`allennlp_models/rc/tools/narrativeqa.py` calls `nltk.download("punkt")` and
`nltk.download("wordnet")` at its top when punkt is missing, and AllenNLP imports every module of
its default plugin `allennlp_models` at start-up. The data serve NarrativeQA's metrics only, and
the download cannot succeed offline. `nltk.download` is wrapped to do nothing (and return `False`,
as a failed download does) when that module calls it; every other caller downloads as before.
"""
import functools
import logging
import sys
from types import ModuleType

logger = logging.getLogger(__name__)

IMPORT_TIME_DOWNLOADER = "allennlp_models.rc.tools.narrativeqa"


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `nltk`.
    """
    original = module.download
    if getattr(original, "__lstmfact_compat__", False):
        return

    @functools.wraps(original)
    def download(*args, **kwargs):
        if sys._getframe(1).f_globals.get("__name__") == IMPORT_TIME_DOWNLOADER:
            logger.debug("skipped nltk.download%r at the import of %s", args, IMPORT_TIME_DOWNLOADER)
            return False
        return original(*args, **kwargs)

    download.__lstmfact_compat__ = True
    module.download = download
