"""
(8) `allennlp train` can ignore SIGTERM (only SIGKILL stops it), where SIGINT always works.

`allennlp` (`allennlp/__main__.py`) installs a SIGTERM handler that raises
`allennlp.common.util.SigTermReceived`, an `Exception`; SIGINT raises `KeyboardInterrupt`, a
`BaseException`. So every `except Exception` that is running when SIGTERM lands swallows it, and the
process goes on. The one that training runs most: `logging.Handler.emit`, which every log line and
every progress line of the trainer goes through, catches `Exception` and prints "--- Logging error ---"
(a process writing its log to a pipe or a slow disk spends most of its time there); also the workers of
allennlp's multi-process data loader (`_instance_worker`, `_batch_worker`), which then wait forever.

Here `SigTermReceived` becomes a subclass of `KeyboardInterrupt`: SIGTERM stops a run wherever SIGINT
would, and `allennlp train` handles both alike (it archives the best weights so far, then exits).
"""
from types import ModuleType


class SigTermInterrupt(KeyboardInterrupt):
    """Raised by allennlp's SIGTERM handler: like Ctrl-C, it passes every `except Exception`."""


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.commands.train`, the module that catches `SigTermReceived` (by attribute, when it
        happens); allennlp's handler raises the name from `allennlp.common.util`, replaced here.
    """
    module.common_util.SigTermReceived = SigTermInterrupt
