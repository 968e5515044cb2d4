"""Reading a tokenized text file, one sentence a line, for a bidirectional language model."""
import itertools
from typing import Iterable, List

from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path
from allennlp.data import DatasetReader, Instance
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import ELMoTokenCharactersIndexer, SingleIdTokenIndexer
from allennlp.data.token_indexers.elmo_indexer import ELMoCharacterMapper
from allennlp.data.tokenizers import Token

CHARACTERS, WORDS = "characters", "words"  # field names, also the indexer names the model reads


@DatasetReader.register("bilm_sentences")
class BilmSentencesReader(DatasetReader):
    """
    Reads a whitespace-tokenized text file with one sentence a line (e.g. Penn Treebank's
    `ptb.train.txt`); blank lines are skipped. Each sentence becomes an `Instance` with

    - `characters`: its tokens as ELMo character ids (`elmo_characters` indexer), the biLM's input;
    - `words`: `<S>`, its tokens, `</S>` as word ids (`single_id`, namespace `words_namespace`),
      the language models' targets; the boundary tokens are the ones `Elmo` adds to its input.

    Registered as a `DatasetReader` with name "bilm_sentences".

    # Parameters

    words_namespace : `str`, optional (default = `"words"`)
        Vocabulary namespace of the target words.
    """

    def __init__(self, words_namespace: str = WORDS, **kwargs) -> None:
        super().__init__(manual_distributed_sharding=True, manual_multiprocess_sharding=True, **kwargs)
        self._character_indexers = {CHARACTERS: ELMoTokenCharactersIndexer()}
        self._word_indexers = {WORDS: SingleIdTokenIndexer(namespace=words_namespace)}

    def _read(self, file_path: str) -> Iterable[Instance]:
        try:
            path = cached_path(file_path)
        except (FileNotFoundError, ValueError, OSError) as error:
            raise ConfigurationError(f"corpus file {file_path!r} cannot be read: {error}") from None
        with open(path, encoding="utf-8") as corpus:
            sentences = filter(None, (line.split() for line in corpus))
            first = next(sentences, None)
            if first is None:
                raise ConfigurationError(f"corpus file {file_path!r} holds no sentence (one tokenized sentence a line)")
            for tokens in self.shard_iterable(itertools.chain([first], sentences)):
                yield self.text_to_instance(tokens)

    def text_to_instance(self, tokens: List[str]) -> Instance:  # type: ignore
        """An `Instance` for one tokenized sentence (without boundary tokens)."""
        words = [ELMoCharacterMapper.bos_token, *tokens, ELMoCharacterMapper.eos_token]
        return Instance({
            CHARACTERS: TextField([Token(t) for t in tokens], self._character_indexers),
            WORDS: TextField([Token(t) for t in words], self._word_indexers),
        })
