"""
(16) Stock `Elmo` given a compressed ELMo weight file (written by `allennlp compress-elmo`: its
LSTM matrices are factors, there is no `W_0`) fails deep in h5py with `KeyError: "Unable to open
object (object 'W_0' doesn't exist)"`.

`ElmoLstm.load_weights` (`allennlp/modules/elmo_lstm.py`) reads `W_0` of every cell. The wrapper
first reads the file's root attribute `COMPRESSION_ATTRIBUTE`: a dense file loads as before; a
compressed one is handed to `loader` (set by `allennlp_lstmfact.bilm.weights` when the package is
imported, so any config's ELMo, stock `Elmo` included, can name a compressed file), or, without the
package, fails with one `ConfigurationError` that says what the file is and what reads it.
"""
import functools
from types import ModuleType
from typing import Callable, Optional

# Root attribute of a compressed ELMo weight file: its `compression` entry as JSON (see bilm_files).
COMPRESSION_ATTRIBUTE = "lstmfact_compression"

# (elmo_lstm, local weight file path) -> None: fills the ElmoLstm from a compressed file.
loader: Optional[Callable] = None


def compression_entry(path: str) -> Optional[str]:
    """The compression entry (JSON text) of the HDF5 file `path`, or None for a dense ELMo file."""
    import h5py

    with h5py.File(path, "r") as handle:
        value = handle.attrs.get(COMPRESSION_ATTRIBUTE)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.modules.elmo_lstm`.
    """
    lstm_class = module.ElmoLstm
    original = lstm_class.load_weights
    if getattr(original, "__lstmfact_compat__", False):
        return

    @functools.wraps(original)
    def load_weights(self, weight_file: str) -> None:
        from allennlp.common.checks import ConfigurationError
        from allennlp.common.file_utils import cached_path

        path = cached_path(weight_file)
        entry = compression_entry(path)
        if entry is None:
            return original(self, weight_file)
        if loader is None:
            raise ConfigurationError(
                f"ELMo weight file {weight_file!r} holds a compressed ELMo ({entry}), which stock allennlp cannot "
                "read: import allennlp_lstmfact (the allennlp command loads it as a plugin), or write a "
                "dense-equivalent copy with `allennlp compress-elmo --dense-equivalent`")
        return loader(self, path)

    load_weights.__lstmfact_compat__ = True
    lstm_class.load_weights = load_weights
