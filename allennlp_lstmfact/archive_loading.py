"""
Whether the model being constructed is being built by AllenNLP's `Model.load` (what `load_archive`,
`allennlp evaluate` / `predict` and `from_archive` call), which loads the archive's state dict into it
right after construction and fails on any missing key. A compression applied at construction then
needs only the compressed shapes: computing the factorization would be thrown away
(`ElmoCompression.apply(structure_only=True)`).

AllenNLP passes no such marker, so importing this module wraps `Model.load` (once) to set one for
the duration of the call; `state_dict_follows()` reads it.
"""
import contextlib
import contextvars
from typing import Iterator

from allennlp.models import Model

_STATE_DICT_FOLLOWS = contextvars.ContextVar("lstmfact_state_dict_follows", default=False)


def state_dict_follows() -> bool:
    """True while `Model.load` constructs a model whose weights its archive's state dict then replaces."""
    return _STATE_DICT_FOLLOWS.get()


@contextlib.contextmanager
def loading_state_dict() -> Iterator[None]:
    """Within this block `state_dict_follows()` is true (as it is inside `Model.load`)."""
    token = _STATE_DICT_FOLLOWS.set(True)
    try:
        yield
    finally:
        _STATE_DICT_FOLLOWS.reset(token)


def _install() -> None:
    original = Model.load.__func__
    if getattr(original, "_sets_state_dict_follows", False):
        return

    def load(cls, *args, **kwargs):
        with loading_state_dict():
            return original(cls, *args, **kwargs)

    load._sets_state_dict_follows = True
    load.__doc__, load.__wrapped__ = original.__doc__, original
    Model.load = classmethod(load)


_install()
