from setuptools import find_packages, setup

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
