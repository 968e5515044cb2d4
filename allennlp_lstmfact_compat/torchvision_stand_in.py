"""
(1) `No module named 'torchvision'` on `import allennlp.data` (and allennlp.modules, commands,
allennlp_models ...).

`allennlp.data.image_loader` and `allennlp.modules.vision.{grid_embedder,region_detector}` import
torchvision at their top, but use it only inside functions (`torchvision.set_image_backend`,
`torchvision.io`, `torchvision.models`, `torchvision.ops.boxes`), and no torchvision wheel works
beside torch 2.13.0+cpu. When no real torchvision is found, a finder placed last in
`sys.meta_path` answers those imports, and only those made from allennlp's own code, with an inert
stand-in whose every attribute raises `ModuleNotFoundError`; once the importing allennlp module
has executed, the stand-in leaves `sys.modules`, so other code still sees no torchvision.
"""
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

# The allennlp modules that import torchvision while they execute.
IMPORTERS = (
    "allennlp.data.image_loader",
    "allennlp.modules.vision.grid_embedder",
    "allennlp.modules.vision.region_detector",
)
_SERVED_PACKAGES = ("allennlp", "allennlp_models")
_ORIGIN = "allennlp_lstmfact_compat stand-in: torchvision is not installed"
_IMPORT_MACHINERY = ("importlib", "_frozen_importlib", "_frozen_importlib_external")


class MissingTorchvision(ModuleType):
    """A `torchvision` (or submodule) stand-in: any use raises `ModuleNotFoundError`."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # probes such as `__wrapped__` or `__file__`
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"torchvision is not installed, so `{self.__name__}.{name}` is unavailable; allennlp's "
            "image loading and vision modules need a torchvision built for the installed torch.",
            name="torchvision",
        )


class _StandInFinder(MetaPathFinder, Loader):
    def find_spec(self, fullname, path, target=None):
        parent, _, _ = fullname.rpartition(".")
        if fullname.partition(".")[0] != "torchvision" or not _imported_by_allennlp():
            return None
        if parent and not isinstance(sys.modules.get(parent), MissingTorchvision):
            return None  # a submodule that a real torchvision lacks
        return ModuleSpec(fullname, self, origin=_ORIGIN, is_package=True)

    def create_module(self, spec):
        return MissingTorchvision(spec.name)

    def exec_module(self, module):
        pass


def _imported_by_allennlp() -> bool:
    """Whether the code running the current import statement belongs to allennlp."""
    frame = sys._getframe(1)
    while frame is not None:
        module_name = frame.f_globals.get("__name__", "")
        top = module_name.partition(".")[0]
        if module_name != __name__ and top not in _IMPORT_MACHINERY:
            return top in _SERVED_PACKAGES
        frame = frame.f_back
    return False


def install() -> None:
    """Append the stand-in finder to `sys.meta_path`, after every real finder (once)."""
    if not any(isinstance(finder, _StandInFinder) for finder in sys.meta_path):
        sys.meta_path.append(_StandInFinder())


def apply(module: ModuleType) -> None:
    """
    Post-import hook for the `IMPORTERS`: drop the stand-ins from `sys.modules` (the allennlp
    module keeps its reference).

    # Parameters

    module : `ModuleType`
        The allennlp module that has just imported torchvision.
    """
    for name, imported in list(sys.modules.items()):
        if isinstance(imported, MissingTorchvision):
            del sys.modules[name]
