"""Reading several corpora of different formats as the sentences of one biLM training set."""
import itertools
import json
import math
from os import PathLike
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import spacy
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path
from allennlp.data import DatasetReader, Instance
from allennlp.data.tokenizers import SpacyTokenizer, Tokenizer
from spacy.tokens import Doc

from allennlp_lstmfact.bilm.dataset_reader import WORDS, BilmSentencesReader

LINES, WIKITEXT, TREES, SNLI, SQUAD = "lines", "wikitext", "trees", "snli", "squad"
FORMATS = {
    LINES: "tokenized text, one sentence a line (PTB's ptb.*.txt); blank lines skipped",
    WIKITEXT: "WikiText *.tokens: tokenized paragraphs, one a line; ' = Heading = ' and blank lines skipped, "
              "paragraphs split into sentences",
    TREES: "bracketed trees, one a line (SST's PTB-tree files); the leaves are the sentence",
    SNLI: "SNLI JSON lines: sentence1 (each distinct premise once) and sentence2, tokenized",
    SQUAD: "SQuAD JSON: passages split into sentences, and questions, tokenized",
}
Record = Tuple[str, Any]  # (format, what one line / sentence / passage of a source holds)


@DatasetReader.register("bilm_corpora")
class BilmCorporaReader(BilmSentencesReader):
    """
    Reads the sentences of several corpora in different formats into the instances of
    `bilm_sentences` (`characters` + `words`, see `BilmSentencesReader.text_to_instance`).

    The data path names the sources:

    - a plain path (string): a tokenized text file, one sentence a line (format `lines`), read as
      `bilm_sentences` reads it (e.g. `validation_data_path: ".../ptb.valid.txt"`);
    - a dict `{format: path or list of paths}`, e.g. `train_data_path: {lines: ".../ptb.train.txt",
      trees: ".../sst/train.txt", squad: ".../train-v1.1.json"}` (AllenNLP passes a dict data path
      to the reader as it is; `allennlp evaluate` takes one as a JSON object);
    - a list of the above.

    Formats (`FORMATS`): `lines`; `wikitext` (tokenized paragraphs, headings and blank lines
    skipped, split into sentences); `trees` (the leaves of each bracketed tree, as the `sst_tokens`
    reader takes them); `snli` (JSON lines: every distinct `sentence1` once, every `sentence2`);
    `squad` (SQuAD JSON: each passage split into sentences, each question as the `squad` reader
    cleans it). Paths may be URLs (`cached_path`). Raw text (`snli`, `squad`) is tokenized by
    `tokenizer`: give it the downstream readers' tokenizer, so the biLM sees their tokens.
    Paragraphs (`wikitext`, `squad`) are split into sentences by spaCy's rule-based `sentencizer`
    run on their tokens, so a passage's tokens are the ones the downstream reader gets from the
    whole passage. A sentence longer than `max_tokens` is split into near-equal pieces.

    Sharding: the sources' lines, sentences and passages are dealt out to distributed and data
    loader workers, as `bilm_sentences` deals out lines.

    Registered as a `DatasetReader` with name "bilm_corpora".

    # Parameters

    tokenizer : `Tokenizer`, optional (default = `SpacyTokenizer(language="blank:en")`)
        Tokenizes the raw text of `snli` and `squad` sources.
    max_tokens : `int`, optional (default = `80`)
        The longest sentence an instance holds (boundary tokens not counted); `None`: no cap.
    words_namespace : `str`, optional (default = `"words"`)
        Vocabulary namespace of the target words.
    """

    def __init__(self, tokenizer: Optional[Tokenizer] = None, max_tokens: Optional[int] = 80,
                 words_namespace: str = WORDS, **kwargs) -> None:
        super().__init__(words_namespace=words_namespace, **kwargs)
        if max_tokens is not None and max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be a positive number of tokens or None, got {max_tokens!r}")
        self._tokenizer = tokenizer or SpacyTokenizer(language="blank:en")
        self._max_tokens = max_tokens
        self._sentencizer_pipeline = None  # built on first use: readers are copied into loader workers

    def _read(self, file_path) -> Iterable[Instance]:
        sources = [self._records(corpus_format, path) for corpus_format, path in sources_of(file_path)]
        for corpus_format, record in self.shard_iterable(itertools.chain(*sources)):
            for sentence in self._sentences(corpus_format, record):
                for piece in cap_length(sentence, self._max_tokens):
                    yield self.text_to_instance(piece)

    def sentences(self, file_path) -> Iterator[List[str]]:
        """The token lists `read` makes instances of (unsharded): for counting and checking a corpus."""
        for corpus_format, path in sources_of(file_path):
            for _, record in self._records(corpus_format, path):
                for sentence in self._sentences(corpus_format, record):
                    yield from cap_length(sentence, self._max_tokens)

    def _records(self, corpus_format: str, path: str) -> Iterator[Record]:
        """The source's records, checked now: a missing file or one with nothing to read raises here."""
        try:
            local_path = cached_path(path)
        except (FileNotFoundError, ValueError, OSError) as error:
            raise ConfigurationError(f"{corpus_format} corpus {path!r} cannot be read: {error}") from None
        records = _RECORDS[corpus_format](local_path, path)
        first = next(records, None)
        if first is None:
            raise ConfigurationError(f"{corpus_format} corpus {path!r} holds no sentence "
                                     f"(format {corpus_format!r}: {FORMATS[corpus_format]})")
        return ((corpus_format, record) for record in itertools.chain([first], records))

    def _sentences(self, corpus_format: str, record: Any) -> List[List[str]]:
        if corpus_format in (LINES, TREES):
            return [record]
        if corpus_format == WIKITEXT:
            return self._split_sentences(record)
        if corpus_format == SNLI:
            tokens = self._tokenize(record)
            return [tokens] if tokens else []
        kind, text = record  # SQUAD: a passage or a question
        tokens = self._tokenize(text)
        if kind == "passage":
            return self._split_sentences(tokens)
        return [tokens] if tokens else []

    def _tokenize(self, text: str) -> List[str]:
        return [token.text for token in self._tokenizer.tokenize(text)]

    def _split_sentences(self, tokens: List[str]) -> List[List[str]]:
        """`tokens` split by spaCy's rule-based sentencizer (on a blank English pipeline)."""
        if not tokens:
            return []
        if self._sentencizer_pipeline is None:
            self._sentencizer_pipeline = spacy.blank("en")
            self._sentencizer_pipeline.add_pipe("sentencizer")
        pipeline = self._sentencizer_pipeline
        doc = pipeline.get_pipe("sentencizer")(Doc(pipeline.vocab, words=tokens))
        return [tokens[sentence.start:sentence.end] for sentence in doc.sents]


def sources_of(file_path: Any) -> List[Tuple[str, str]]:
    """The (format, path) pairs a `bilm_corpora` data path names."""
    if isinstance(file_path, (str, PathLike)):
        return [(LINES, str(file_path))]
    if isinstance(file_path, Mapping):
        if not file_path:
            raise ConfigurationError("bilm_corpora: the data path names no corpus ({} given)")
        sources = []
        for corpus_format, paths in file_path.items():
            if corpus_format not in FORMATS:
                raise ConfigurationError(f"bilm_corpora: unknown corpus format {corpus_format!r} (for {paths!r}); "
                                         f"allowed: {', '.join(FORMATS)}")
            paths = [paths] if isinstance(paths, (str, PathLike)) else paths
            if not isinstance(paths, (list, tuple)) or not paths \
                    or not all(isinstance(path, (str, PathLike)) for path in paths):
                raise ConfigurationError(f"bilm_corpora: the {corpus_format} corpus must be a path or a list of "
                                         f"paths, got {paths!r}")
            sources.extend((corpus_format, str(path)) for path in paths)
        return sources
    if isinstance(file_path, (list, tuple)) and file_path:
        return [source for item in file_path for source in sources_of(item)]
    raise ConfigurationError(f"bilm_corpora: a data path is a file path, a {{format: path(s)}} dict or a list of them; "
                             f"got {file_path!r} (formats: {', '.join(FORMATS)})")


def cap_length(tokens: List[str], max_tokens: Optional[int]) -> List[List[str]]:
    """`tokens` in as few near-equal pieces as hold at most `max_tokens` each (`None`: whole)."""
    if max_tokens is None or len(tokens) <= max_tokens:
        return [tokens]
    pieces = math.ceil(len(tokens) / max_tokens)
    size, longer = divmod(len(tokens), pieces)  # the first `longer` pieces hold one token more
    bounds = [0, *itertools.accumulate(size + (piece < longer) for piece in range(pieces))]
    return [tokens[start:end] for start, end in zip(bounds, bounds[1:])]


def _lines(local_path: str) -> Iterator[Tuple[int, str]]:
    with open(local_path, encoding="utf-8") as corpus:
        yield from enumerate(corpus, start=1)


def _tokenized_lines(local_path: str, path: str) -> Iterator[List[str]]:
    return filter(None, (line.split() for _, line in _lines(local_path)))


def _wikitext_paragraphs(local_path: str, path: str) -> Iterator[List[str]]:
    for _, line in _lines(local_path):
        tokens = line.split()
        if tokens and not (tokens[0] == "=" and tokens[-1] == "="):  # a heading: " = Title = ", " = = Part = = "
            yield tokens


def _tree_leaves(local_path: str, path: str) -> Iterator[List[str]]:
    from nltk.tree import Tree

    for number, line in _lines(local_path):
        if line.strip():
            try:
                yield Tree.fromstring(line).leaves()
            except ValueError as error:
                raise ConfigurationError(f"trees corpus {path!r}, line {number}: not a bracketed tree ({error})") \
                    from None


def _snli_sentences(local_path: str, path: str) -> Iterator[str]:
    premises = set()
    for number, line in _lines(local_path):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
            premise, hypothesis = pair["sentence1"], pair["sentence2"]
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(f"snli corpus {path!r}, line {number}: not an SNLI pair with sentence1 and "
                                     f"sentence2 ({error!r})") from None
        if premise not in premises:
            premises.add(premise)
            yield premise
        yield hypothesis


def _squad_texts(local_path: str, path: str) -> Iterator[Tuple[str, str]]:
    try:
        with open(local_path, encoding="utf-8") as dataset_file:
            articles = json.load(dataset_file)["data"]
        paragraphs = [paragraph for article in articles for paragraph in article["paragraphs"]]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"squad corpus {path!r}: not SQuAD JSON with data/paragraphs ({error!r})") from None
    for paragraph in paragraphs:
        yield "passage", paragraph["context"]
        for question in paragraph.get("qas", []):
            yield "question", question["question"].strip().replace("\n", "")  # as allennlp-models' squad reader


_RECORDS: Dict[str, Callable[[str, str], Iterator[Any]]] = {
    LINES: _tokenized_lines, WIKITEXT: _wikitext_paragraphs, TREES: _tree_leaves, SNLI: _snli_sentences,
    SQUAD: _squad_texts,
}
