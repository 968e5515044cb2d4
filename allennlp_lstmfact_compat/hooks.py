"""
Post-import hooks: run a patch right after a named module has executed.

A finder at the front of `sys.meta_path` wraps the real loader of the registered module names
only; every other import goes by untouched. Imports neither torch nor allennlp.
"""
import importlib
import sys
from importlib.abc import Loader, MetaPathFinder
from types import ModuleType
from typing import Dict, List

# module name -> dotted names of patch modules, each with an `apply(module)` function
_patches: Dict[str, List[str]] = {}


def when_imported(module_name: str, patch: str) -> None:
    """
    Apply `patch` to `module_name` right after that module executes, or at once if it has
    already been imported. Registering the same pair again does nothing.

    # Parameters

    module_name : `str`
        The module to patch, e.g. `"allennlp.common.util"`.
    patch : `str`
        The dotted name of a module with an `apply(module)` function. It is imported only when
        `module_name` is, so it may import torch and allennlp at its top.
    """
    if not any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
    registered = _patches.setdefault(module_name, [])
    if patch in registered:
        return
    registered.append(patch)
    module = sys.modules.get(module_name)
    if module is not None:
        _apply(patch, module)


def _apply(patch: str, module: ModuleType) -> None:
    importlib.import_module(patch).apply(module)


class _PostImportFinder(MetaPathFinder):
    """Finds registered modules through the other finders and wraps their loader."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _patches:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader(Loader):
    """Runs the real loader, then the patches registered for the module."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module, and anything that inspects it, sees only the real loader.
        module.__loader__ = module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        for patch in list(_patches.get(module.__name__, ())):
            _apply(patch, module)
