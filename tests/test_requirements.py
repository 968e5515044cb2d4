"""
The requirement files are installed with `pip install --no-deps` (allennlp's metadata asks for
torch<1.13, which pip's resolver cannot satisfy beside torch 2.13): each must therefore hold the
whole closure of what it installs, and the only requirements its pins break must be allennlp's
known, harmless ones.
"""
import re
from importlib.metadata import distribution
from typing import Dict, List, Set, Tuple

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

RUNTIME = "requirements.txt"
OPTIONAL = ("requirements-experiments.txt", "requirements-sweep.txt")
# Named by allennlp's metadata, imported by nothing that runs here (see requirements.txt).
LEFT_OUT = {"torchvision", "wandb", "datasets"}
# (distribution, requirement) pairs whose version range the pins break on purpose: allennlp 2.10.1
# was written for torch < 1.13, spaCy < 3.4 and transformers < 4.21, none of which has CPython 3.11
# wheels that work together; allennlp_lstmfact_compat repairs what breaks.
KNOWN_CONFLICTS = {("allennlp", "torch"), ("allennlp", "spacy"), ("allennlp", "transformers"),
                   ("allennlp-models", "torch")}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(*files: str) -> Dict[str, str]:
    """Distribution -> pinned version, from requirement files of `name==version` lines."""
    pinned = {}
    for file in files:
        for line in (REPO / file).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                name, version = line.split("==")
                pinned[normalize(name)] = version
    return pinned


def requirements_of(name: str) -> List[Requirement]:
    """The requirements of the installed distribution `name` that apply here (no extras)."""
    requirements = [Requirement(text) for text in distribution(name).requires or []]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def unmet(pinned: Dict[str, str]) -> Tuple[Set[Tuple[str, str]], Set[Tuple[str, str]]]:
    """(requirements of pinned distributions that are not pinned, those whose range excludes the pin)."""
    missing, conflicts = set(), set()
    for name in pinned:
        for requirement in requirements_of(name):
            required = normalize(requirement.name)
            if required not in pinned:
                if required not in LEFT_OUT:
                    missing.add((name, required))
            elif not requirement.specifier.contains(pinned[required], prereleases=True):
                conflicts.add((name, required))
    return missing, conflicts


def test_the_environment_holds_the_pinned_versions():
    """The closure below is read from the installed metadata: it must be that of the pinned versions."""
    installed = {name: distribution(name).version.split("+")[0] for name in pins(RUNTIME, *OPTIONAL)}
    assert installed == pins(RUNTIME, *OPTIONAL)


@pytest.mark.parametrize("optional", [(), *[(file,) for file in OPTIONAL]], ids=["runtime", *OPTIONAL])
def test_each_list_holds_its_whole_closure(optional):
    missing, conflicts = unmet(pins(RUNTIME, *optional))
    assert missing == set()
    assert conflicts == KNOWN_CONFLICTS


def test_the_library_requirements_are_pinned_at_the_same_versions():
    setup = (REPO / "setup.py").read_text()
    declared = re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', setup)
    assert declared and {normalize(name): version for name, version in declared}.items() <= pins(RUNTIME).items()
