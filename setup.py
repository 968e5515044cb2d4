import os
import sysconfig

from setuptools import find_packages, setup

# The start-up hook that puts allennlp_lstmfact_compat in effect in every Python process (the
# `allennlp` CLI included) is a .pth file, which Python reads from site-packages only: it is
# installed as a data file at site-packages' place relative to the installation prefix (regular and
# --user installs; computed by the interpreter that builds, which pip runs from the environment it
# installs into). setuptools' editable installs leave data files out: scripts/install.sh copies it.
SITE_PACKAGES = os.path.relpath(sysconfig.get_paths()["purelib"], sysconfig.get_paths()["data"])

setup(
    name="allennlp-lstmfact",
    version="0.1.0",
    description="Low-rank factorization (SVD, Semi-NMF, pruning) of LSTM weights in AllenNLP ELMo models and LSTM LMs",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    # The library only: experiments/, tests/, scripts/ and benchmarks/ stay in the repository.
    packages=find_packages(include=["allennlp_lstmfact", "allennlp_lstmfact.*",
                                    "allennlp_lstmfact_compat", "allennlp_lstmfact_compat.*"]),
    data_files=[(SITE_PACKAGES, ["allennlp_lstmfact_compat/lstmfact_compat.pth"])],
    # allennlp's own metadata asks for torch<1.13: install with `pip install --no-deps -r requirements.txt .`
    # (README), which pins these and everything they need.
    install_requires=[
        "torch==2.13.0",
        "allennlp==2.10.1",
        "allennlp-models==2.10.1",
        "numpy==1.26.4",
        "h5py==3.16.0",
        "tqdm==4.70.1",
        "spacy==3.4.4",
        "nltk==3.10.4",
    ],
)
