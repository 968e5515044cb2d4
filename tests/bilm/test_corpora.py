"""The `bilm_corpora` reader on tiny files in each format, and the unlabeled-text config on them."""
import json

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.data.dataset_readers.dataset_reader import WorkerInfo
from allennlp.data.tokenizers import Tokenizer
from allennlp.models import Model

from allennlp_lstmfact.bilm import BilmCorporaReader, BilmSentencesReader, ElmoBidirectionalLm
from allennlp_lstmfact.bilm.corpora import FORMATS, cap_length
from allennlp_lstmfact.plugin import CONFIG_DEFAULTS
from tests.bilm.conftest import tiny_options
from tests.conftest import FIXTURES, REPO

# Tiny hand-written files in each format (the real ones are read from LSTMFACT_DATA, never copied here).
CORPORA = FIXTURES / "bilm" / "corpora"
PTB_TRAIN = CORPORA / "lines_train.txt"
WIKITEXT = CORPORA / "wikitext.tokens"
TREES = CORPORA / "trees.txt"
SNLI = CORPORA / "snli_pairs.jsonl"
SQUAD = CORPORA / "squad.json"
CONFIG = REPO / "training_configs" / "bilm" / "elmo_bilm_unlabeled.jsonnet"
# Where the unlabeled-text config looks under LSTMFACT_DATA: the fixture standing in for each file.
DATA_LAYOUT = {"ptb/ptb.train.txt": PTB_TRAIN, "ptb/ptb.valid.txt": CORPORA / "lines_valid.txt",
               "ptb/ptb.test.txt": CORPORA / "lines_test.txt", "wikitext-2/wiki.valid.tokens": WIKITEXT,
               "sst/train.txt": TREES, "snli/snli_1.0_dev.labeled_pairs.jsonl": SNLI,
               "squad/train-v1.1.sample-44-articles.json": SQUAD}


def read_words(data_path, **reader_arguments):
    """The target words of each instance, without the boundary tokens."""
    return [[token.text for token in instance["words"]][1:-1]
            for instance in BilmCorporaReader(**reader_arguments).read(data_path)]


def test_a_plain_path_is_read_as_bilm_sentences_reads_it():
    assert read_words(str(PTB_TRAIN), max_tokens=None) == \
        [[token.text for token in instance["characters"]] for instance in BilmSentencesReader().read(str(PTB_TRAIN))]


def test_instances_are_those_of_bilm_sentences():
    instance = next(iter(BilmCorporaReader().read({"trees": str(TREES)})))
    words = [token.text for token in instance["words"]]
    assert words[0] == "<S>" and words[-1] == "</S>"
    assert [token.text for token in instance["characters"]] == words[1:-1]
    assert set(instance.fields) == {"characters", "words"}


def test_tree_leaves_are_the_tokens():
    assert read_words({"trees": str(TREES)}) == [["The", "Rock", "is", "destined", "."],
                                                 ["the", "story", "is", "-LRB-", "bland", "-RRB-"]]


def test_wikitext_skips_headings_and_blank_lines_and_splits_paragraphs_into_sentences():
    assert read_words({"wikitext": str(WIKITEXT)}) == [
        "Homarus gammarus is a species of <unk> lobster .".split(),
        "It may grow to a length of 60 cm ( 24 in ) .".split(),
        "It is closely related to the American lobster , H. americanus .".split(),
        'The larger claw is the " crusher " .'.split(),
        "Lobsters weigh 0 @.@ 7 – 2 @.@ 2 kg !".split(),
    ]


def test_snli_reads_each_premise_once_and_tokenizes_as_the_task_configs():
    assert read_words({"snli": str(SNLI)}) == [
        "Two friends are hugging while holding paper bags .".split(),
        "The friends are saying goodbye .".split(),
        "Two people are holding bags .".split(),
        "A man is n't sleeping .".split(),
        "The man is sleeping .".split(),
    ]


def test_squad_passages_are_split_into_sentences_with_the_tokens_of_the_whole_passage():
    sentences = read_words({"squad": str(SQUAD)})
    assert sentences == [
        "The Eiffel Tower is a wrought - iron lattice tower in Paris .".split(),
        "It was designed by Gustave Eiffel 's company and completed in 1889 !".split(),
        "Is it tall ?".split(),
        "Yes .".split(),
        "Where is the Eiffel Tower ?".split(),
        "When was it completed ?".split(),
    ]
    # the downstream squad reader tokenizes the whole passage with the same tokenizer
    passage = json.loads(SQUAD.read_text())["data"][0]["paragraphs"][0]["context"]
    tokenizer = Tokenizer.from_params(Params({"type": "spacy", "language": "blank:en"}))  # lib.tokenizer
    whole = [token.text for token in tokenizer.tokenize(passage)]
    assert sum(sentences[:4], []) == whole


def test_a_dict_names_several_sources_and_a_format_may_have_several_files():
    both = read_words({"trees": [str(TREES), str(TREES)], "lines": str(PTB_TRAIN)})
    assert len(both) == 2 * 2 + 4
    as_list = read_words([{"trees": str(TREES)}, str(PTB_TRAIN)])  # a list of data paths, as AllenNLP allows
    assert as_list == read_words({"trees": str(TREES), "lines": str(PTB_TRAIN)})


def test_long_sentences_are_split_into_near_equal_pieces():
    assert cap_length(list("abcdefg"), 3) == [list("abc"), list("de"), list("fg")]
    assert [len(piece) for piece in cap_length(list(range(10)), 4)] == [4, 3, 3]
    assert [len(piece) for piece in cap_length(list(range(8)), 4)] == [4, 4]
    assert [len(piece) for piece in cap_length(list(range(81)), 80)] == [41, 40]
    assert cap_length(list(range(5)), None) == [list(range(5))]
    capped = read_words({"wikitext": str(WIKITEXT)}, max_tokens=4)
    assert max(map(len, capped)) == 4
    assert sum(capped, []) == sum(read_words({"wikitext": str(WIKITEXT)}), [])


def test_sharding_deals_out_every_passage_and_sentence_once():
    sentences = read_words({"squad": str(SQUAD), "wikitext": str(WIKITEXT)})
    shards = []
    for rank in range(2):
        reader = BilmCorporaReader()
        reader._set_worker_info(WorkerInfo(num_workers=2, id=rank))  # a data loader worker's share
        shards.append([[t.text for t in instance["words"]][1:-1]
                       for instance in reader.read({"squad": str(SQUAD), "wikitext": str(WIKITEXT)})])
    assert all(shards) and sorted(shards[0] + shards[1]) == sorted(sentences)


@pytest.mark.parametrize("data_path, message", [
    ({"conll": str(TREES)}, "unknown corpus format 'conll'.*allowed: " + ", ".join(FORMATS)),
    ({"trees": str(CORPORA / "missing.txt")}, "trees corpus .*missing.txt.* cannot be read"),
    (str(CORPORA / "missing.txt"), "lines corpus .*missing.txt.* cannot be read"),
    ({"trees": 3}, "must be a path or a list of paths"),
    ({}, "names no corpus"),
    (3, "a data path is a file path"),
    ({"trees": str(SNLI)}, "trees corpus .*line 1: not a bracketed tree"),
    ({"snli": str(TREES)}, "snli corpus .*line 1: not an SNLI pair"),
    ({"squad": str(SNLI)}, "squad corpus .*not SQuAD JSON"),
])
def test_bad_sources_raise_a_configuration_error_naming_them(data_path, message):
    with pytest.raises(ConfigurationError, match=message):
        list(BilmCorporaReader().read(data_path))


def test_a_source_with_nothing_to_read_raises_a_configuration_error(tmp_path):
    (tmp_path / "headings.tokens").write_text(" \n = Title = \n\n = = Part = = \n")
    with pytest.raises(ConfigurationError, match="wikitext corpus .*headings.tokens.* holds no sentence"):
        list(BilmCorporaReader().read({"wikitext": str(tmp_path / "headings.tokens"), "trees": str(TREES)}))


def test_max_tokens_must_be_positive():
    with pytest.raises(ConfigurationError, match="max_tokens"):
        BilmCorporaReader(max_tokens=0)


def test_the_unlabeled_config_builds_its_readers_and_model_on_the_fixtures(tmp_path):
    for relative, fixture in DATA_LAYOUT.items():  # a stand-in for the shared data folder
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).symlink_to(fixture)
    variables = {**CONFIG_DEFAULTS, "LSTMFACT_DATA": str(tmp_path), "NUM_EPOCHS": "1", "SEED": "1"}
    params = Params.from_file(str(CONFIG), ext_vars=variables)
    values = params.as_dict(quiet=True)
    train = values["train_data_path"]
    assert set(train) == set(FORMATS)
    assert all(path.startswith(str(tmp_path)) for path in train.values())
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    validation_reader = DatasetReader.from_params(params.pop("validation_dataset_reader"))
    assert isinstance(reader, BilmCorporaReader) and isinstance(validation_reader, BilmCorporaReader)
    assert (reader._max_tokens, validation_reader._max_tokens) == (80, None)
    instances = list(reader.read(train))
    assert len(instances) == 4 + 5 + 2 + 5 + 6
    vocab = Vocabulary.from_params(params.pop("vocabulary"), instances=instances)
    assert vocab.get_token_index("crusher", "words") > 1
    # held-out PTB is read whole, as bilm_sentences reads it
    assert len(list(validation_reader.read(values["validation_data_path"]))) == 2
    assert len(list(validation_reader.read(values["test_data_path"]))) == 2
    model_params = params.pop("model")
    model_params["options"]["lstm"].update(dim=16, projection_dim=4)  # the config's model, smaller
    model = Model.from_params(vocab=vocab, params=model_params)
    assert isinstance(model, ElmoBidirectionalLm)
    batch = Batch(instances[:4])
    batch.index_instances(vocab)
    output = model(**batch.as_tensor_dict())
    assert output["loss"].item() > 0
    assert int(output["num_predictions"]) == sum(len(instance["words"]) - 1 for instance in instances[:4])


def test_every_train_bilm_preset_names_a_shipped_config():
    from scripts.train_bilm import PRESETS

    assert {"ptb", "unlabeled"} <= set(PRESETS)
    assert all((REPO / config).is_file() for config, *_ in PRESETS.values())


def test_words_outside_a_capped_vocabulary_are_unknown_targets_counted_as_predictions():
    instances = list(BilmCorporaReader().read({"trees": str(TREES)}))  # 5 + 6 tokens, "is" in both
    vocab = Vocabulary.from_instances(instances, max_vocab_size={"words": 3})  # <S>, is, </S>
    batch = Batch(instances)
    batch.index_instances(vocab)
    tensors = batch.as_tensor_dict()
    unknown = vocab.get_token_index(vocab._oov_token, "words")
    assert int((tensors["words"]["words"]["tokens"] == unknown).sum()) == 11 - 2
    model = ElmoBidirectionalLm(vocab, tiny_options())
    assert int(model(**tensors)["num_predictions"]) == 11 + 2  # every token and </S> (forward), @@UNKNOWN@@ too
