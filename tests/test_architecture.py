"""
Import rules of the library, checked by a static scan of every module (function-level imports
included) and, for the core, by importing it in a fresh interpreter:
  - the library never imports the experiments (`experiments/` uses the library, not the reverse);
  - `allennlp_lstmfact.core` is plain torch/numpy: no `allennlp`, no `allennlp_models`;
  - the language models (`allennlp_lstmfact.lm`) do not depend on the ELMo integration (`allennlp_lstmfact.elmo`).
"""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, NamedTuple, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent


class ImportRule(NamedTuple):
    """The modules under `scope` (a folder of the repository) must not import `forbidden` or its submodules."""

    name: str
    scope: str
    forbidden: str


NO_EXPERIMENTS = ImportRule("library-never-imports-experiments", "allennlp_lstmfact", "experiments")
CORE_WITHOUT_ALLENNLP = ImportRule("core-never-imports-allennlp", "allennlp_lstmfact/core", "allennlp")
LM_WITHOUT_ELMO = ImportRule("lm-never-imports-elmo", "allennlp_lstmfact/lm", "allennlp_lstmfact.elmo")
RULES = [
    NO_EXPERIMENTS,
    ImportRule("compat-never-imports-experiments", "allennlp_lstmfact_compat", "experiments"),
    CORE_WITHOUT_ALLENNLP,
    ImportRule("core-never-imports-allennlp-models", "allennlp_lstmfact/core", "allennlp_models"),
    LM_WITHOUT_ELMO,
]


class Import(NamedTuple):
    """A module that a statement at `line` of a file imports."""

    line: int
    statement: str
    module: str


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute_module(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module `from <module> import ...` names, relative imports resolved against `importer`."""
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    if not is_package:
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def dynamic_import(node: ast.AST) -> Optional[str]:
    """The module of an `importlib.import_module("...")` or `__import__("...")` call with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    name = node.args[0]
    is_literal = isinstance(name, ast.Constant) and isinstance(name.value, str)
    return name.value if function in ("import_module", "__import__") and is_literal else None


def imported_modules(node: ast.AST, importer: str, is_package: bool) -> List[str]:
    """The modules an import statement (or a dynamic import of a literal name) may load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        module = absolute_module(node, importer, is_package)
        # `from package import name` loads `package.name` when `name` is a submodule
        return [module] + [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
    module = dynamic_import(node)
    return [module] if module else []


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every import of the module at `path`, wherever it is in the module (functions, classes, branches)."""
    importer = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        for module in imported_modules(node, importer, path.name == "__init__.py"):
            yield Import(node.lineno, ast.unparse(node), module)


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(rule: ImportRule, root: Path = REPO) -> List[str]:
    """`file:line: statement` for each import under `rule.scope` of `rule.forbidden` (or a submodule)."""
    found = []
    for path in sorted((root / rule.scope).rglob("*.py")):
        lines = {(found_import.line, found_import.statement) for found_import in imports_of(path, root)
                 if is_within(found_import.module, rule.forbidden)}
        found += [f"{path.relative_to(root)}:{line}: {statement}" for line, statement in sorted(lines)]
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_import_rule(rule: ImportRule):
    assert (REPO / rule.scope).is_dir()
    found = violations(rule)
    assert not found, f"{rule.scope}/ must not import {rule.forbidden}:\n" + "\n".join(found)


def test_importing_the_core_loads_no_allennlp():
    probe = ("import sys, allennlp_lstmfact.core; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('allennlp', 'allennlp_models')))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"import allennlp_lstmfact.core loaded {result.stdout.strip()}"


# --- the scanner itself ---------------------------------------------------------------------------


def scan_one_file(root: Path, file: str, source: str, rule: ImportRule) -> List[str]:
    """The violations of `rule` in a tree under `root` that holds only `file`, with `source` in it."""
    (root / file).parent.mkdir(parents=True)
    (root / file).write_text(source)
    return violations(rule, root)


@pytest.mark.parametrize("file, source, rule, expected_line", [
    ("allennlp_lstmfact/calls.py", "import experiments\n", NO_EXPERIMENTS, 1),
    ("allennlp_lstmfact/calls.py", "from experiments.sweep import grid\n", NO_EXPERIMENTS, 1),
    ("allennlp_lstmfact/calls.py", "import os\n\ndef run():\n    import experiments.sweep.grid\n", NO_EXPERIMENTS, 4),
    ("allennlp_lstmfact/calls.py", "import importlib\nimportlib.import_module('experiments.sweep')\n",
     NO_EXPERIMENTS, 2),
    ("allennlp_lstmfact/core/layer.py", "import allennlp.nn.util as util\n", CORE_WITHOUT_ALLENNLP, 1),
    ("allennlp_lstmfact/core/layer.py", "class A:\n    def f(self):\n        from allennlp.data import Vocabulary\n",
     CORE_WITHOUT_ALLENNLP, 3),
    ("allennlp_lstmfact/lm/model.py", "from allennlp_lstmfact import elmo\n", LM_WITHOUT_ELMO, 1),
    ("allennlp_lstmfact/lm/model.py", "from allennlp_lstmfact.elmo import ElmoCompression\n", LM_WITHOUT_ELMO, 1),
    ("allennlp_lstmfact/lm/model.py", "from .. import elmo\n", LM_WITHOUT_ELMO, 1),
    ("allennlp_lstmfact/lm/sub/__init__.py", "from ...elmo import ElmoCompression\n", LM_WITHOUT_ELMO, 1),
    ("allennlp_lstmfact/lm/model.py", "try:\n    pass\nexcept ImportError:\n    import allennlp_lstmfact.elmo\n",
     LM_WITHOUT_ELMO, 4),
])
def test_the_scanner_reports_a_forbidden_import(tmp_path, file, source, rule, expected_line):
    found = scan_one_file(tmp_path, file, source, rule)
    assert len(found) == 1 and found[0].startswith(f"{file}:{expected_line}: "), found


@pytest.mark.parametrize("file, source, rule", [
    ("allennlp_lstmfact/core/layer.py", "import allennlp_lstmfact_compat\nimport allennlp_lstmfact.core.layers\n",
     CORE_WITHOUT_ALLENNLP),
    ("allennlp_lstmfact/lm/model.py", "from allennlp_lstmfact import lm, elmo_utils\nfrom . import elmo\n",
     LM_WITHOUT_ELMO),
    ("allennlp_lstmfact/calls.py", "import experimental\nfrom allennlp_lstmfact import experiments\n",
     NO_EXPERIMENTS),
])
def test_the_scanner_ignores_allowed_imports(tmp_path, file, source, rule):
    assert scan_one_file(tmp_path, file, source, rule) == []
