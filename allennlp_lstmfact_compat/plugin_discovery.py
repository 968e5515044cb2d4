"""
(8) `allennlp compress` (and every component of this package) exists only where a plugin file
names it: `.allennlp_plugins` in the working directory or `~/.allennlp/plugins`. From any other
folder `allennlp compress` is an `invalid choice`, and `--include-package` comes too late for
subcommands (they are read before the arguments are parsed).

AllenNLP imports its default plugins (`DEFAULT_PLUGINS`, e.g. `allennlp_models`) whenever they are
installed, but the list is fixed. `discover_plugins` (`allennlp/common/plugins.py`) is wrapped to
yield this package's plugin module too, once, after the plugin files' entries, so an installed
allennlp-lstmfact is a plugin wherever `allennlp` runs.
"""
import functools
from types import ModuleType

PLUGIN = "allennlp_lstmfact.plugin"


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.common.plugins`.
    """
    original = module.discover_plugins
    if getattr(original, "__lstmfact_compat__", False):
        return

    @functools.wraps(original)
    def discover_plugins():
        found = list(original())
        yield from found
        if PLUGIN not in found:
            yield PLUGIN

    discover_plugins.__lstmfact_compat__ = True
    module.discover_plugins = discover_plugins
