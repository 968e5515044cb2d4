"""Readers for word-level language-modelling corpora stored as one sentence or paragraph per line."""
from typing import Dict, Iterable, List, Optional

from allennlp.common.file_utils import cached_path
from allennlp.data import DatasetReader, Instance, Token
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer


@DatasetReader.register("ptb_lm")
@DatasetReader.register("wikitext_lm")
class LineStreamReader(DatasetReader):
    """
    One instance per line: the line's whitespace-separated tokens followed by an end-of-line
    token, in a `TextField` named "tokens". `BpttStreamDataLoader` concatenates them into one stream.

    This is the standard preprocessing of both corpora (Mikolov et al. 2010; Merity et al. 2017):
    Mikolov's Penn Treebank splits `ptb.{train,valid,test}.txt` (10k words, `<unk>` included) and
    WikiText-2/-103 `wiki.{train,valid,test}.tokens`, whose blank lines and `= heading =` lines
    are kept (each blank line is one `<eos>`), so that token counts and perplexities match the
    published ones (e.g. WikiText-2 test: 245,569 tokens).

    Registered as a `DatasetReader` with names "ptb_lm" and "wikitext_lm".

    # Parameters

    end_of_line : `str`, optional (default = `"<eos>"`)
    token_indexers : `Dict[str, TokenIndexer]`, optional (default = `{"tokens": SingleIdTokenIndexer()}`)
    """

    def __init__(self, end_of_line: str = "<eos>", token_indexers: Optional[Dict[str, TokenIndexer]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.end_of_line = end_of_line
        self.token_indexers = token_indexers or {"tokens": SingleIdTokenIndexer()}

    def _read(self, file_path: str) -> Iterable[Instance]:
        with open(cached_path(file_path), encoding="utf-8") as corpus:
            for line in corpus:
                yield self.text_to_instance(line.split())

    def text_to_instance(self, words: List[str]) -> Instance:  # type: ignore[override]
        tokens = [Token(word) for word in words] + [Token(self.end_of_line)]
        return Instance({"tokens": TextField(tokens, self.token_indexers)})
