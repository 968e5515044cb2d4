"""
The wheel `pip wheel .` builds holds the library (allennlp_lstmfact, allennlp_lstmfact_compat) and
nothing else of the repository, and declares what the library imports.
"""
import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import List, Set

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
LIBRARY_PACKAGES = ("allennlp_lstmfact", "allennlp_lstmfact_compat")
REPOSITORY_ONLY = ("experiments", "tests", "scripts", "benchmarks")
# Build outputs and local state that a clean clone does not have.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                        ".pytest_cache", "runs", "outputs")


class Wheel:
    """The entries and the metadata of a built wheel."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as archive:
            self.entries = archive.namelist()
            (metadata,) = [name for name in self.entries if name.endswith(".dist-info/METADATA")]
            self.metadata = Parser().parsestr(archive.read(metadata).decode())

    @property
    def requirements(self) -> Set[str]:
        """Names of the Requires-Dist distributions, normalized (`allennlp_models`)."""
        requirements = self.metadata.get_all("Requires-Dist") or []
        return {normalize(Requirement(requirement).name) for requirement in requirements}


def normalize(distribution: str) -> str:
    return distribution.lower().replace("-", "_")


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> Path:
    """A copy of the working tree without build outputs: builds leave no build/ behind in the repository."""
    source = tmp_path_factory.mktemp("source") / "allennlp-lstmfact"
    shutil.copytree(REPO, source, ignore=NOT_IN_A_CLONE)
    return source


@pytest.fixture(scope="module")
def wheel(source_tree, tmp_path_factory) -> Wheel:
    out = tmp_path_factory.mktemp("wheels")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
               "-q", str(source_tree), "-w", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("allennlp_lstmfact-*.whl")
    return Wheel(path)


def library_modules(root: Path) -> List[Path]:
    return sorted(path.relative_to(root) for package in LIBRARY_PACKAGES for path in (root / package).rglob("*.py"))


def test_the_wheel_holds_the_library_and_nothing_else(wheel: Wheel):
    top_level = {entry.split("/")[0] for entry in wheel.entries}
    assert {name for name in top_level if not name.endswith((".dist-info", ".data"))} == set(LIBRARY_PACKAGES)
    data = [entry for entry in wheel.entries if entry.split("/")[0].endswith(".data")]
    site_packages = os.path.relpath(sysconfig.get_paths()["purelib"], sysconfig.get_paths()["data"])
    assert data == [f"allennlp_lstmfact-0.1.0.data/data/{site_packages}/lstmfact_compat.pth"]
    assert "allennlp_lstmfact/core/__init__.py" in wheel.entries
    assert "allennlp_lstmfact/plugin.py" in wheel.entries
    misplaced = [entry for entry in wheel.entries
                 if any(part in REPOSITORY_ONLY for part in entry.split("/")[:-1]) or "sweep" in entry]
    assert misplaced == []


def test_the_wheel_holds_every_module_of_the_library(wheel: Wheel, source_tree: Path):
    """A library folder without `__init__.py` is no package to setuptools: its modules would be left out."""
    missing = [str(module) for module in library_modules(source_tree) if module.as_posix() not in wheel.entries]
    assert missing == []


def third_party_imports(root: Path) -> Set[str]:
    """Top-level names of the non-standard-library modules the library imports (function-level imports too)."""
    names = set()
    for module in library_modules(root):
        for node in ast.walk(ast.parse((root / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(LIBRARY_PACKAGES)


def test_every_package_the_library_imports_is_a_requirement(wheel: Wheel, source_tree: Path):
    distributions = packages_distributions()
    undeclared = sorted(name for name in third_party_imports(source_tree)
                        if not {normalize(d) for d in distributions.get(name, [name])} & wheel.requirements)
    assert undeclared == [], f"imported by the library, missing from install_requires: {undeclared}"
