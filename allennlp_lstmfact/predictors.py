"""
Predictors that let stock `allennlp predict ARCHIVE input.jsonl` run offline on the shipped tasks.

- BCN (SST-5) has no default predictor in allennlp-models, and allennlp's `text_classifier`
  tokenizes with spaCy's `en_core_web_sm` model when the reader has no tokenizer (the SST tree
  reader has none); that model cannot be downloaded here. `text_classifier_blank_en` tokenizes
  with spaCy's blank English pipeline, as the shipped configs do, and becomes BCN's default.
- An archive whose model is wrapped for compression (`with_compressed_elmo`,
  `compressed_from_pretrained`) loads as the inner model; `inner_model_default` gives it the inner
  model's default predictor (ESIM: `textual_entailment`, BiDAF: `reading_comprehension`).
"""
from allennlp.common.checks import ConfigurationError
from allennlp.data import DatasetReader, Instance
from allennlp.data.tokenizers import SpacyTokenizer
from allennlp.models import Model
from allennlp.predictors import Predictor
from allennlp.predictors.text_classifier import TextClassifierPredictor
from allennlp_models.classification.models import BiattentiveClassificationNetwork


@Predictor.register("text_classifier_blank_en")
class BlankEnglishTextClassifierPredictor(TextClassifierPredictor):
    """
    allennlp's `text_classifier` (input `{"sentence": "..."}`), except that a reader without a
    tokenizer gets the sentence split by spaCy's blank English pipeline (`en_core_web_sm` is not
    needed).

    Registered as a `Predictor` with name "text_classifier_blank_en".
    """

    def __init__(self, model: Model, dataset_reader: DatasetReader, frozen: bool = True) -> None:
        super().__init__(model, dataset_reader, frozen)
        self._tokenizer = SpacyTokenizer(language="blank:en")

    def _json_to_instance(self, json_dict) -> Instance:
        reader = self._dataset_reader
        if getattr(reader, "tokenizer", None) is not None or getattr(reader, "_tokenizer", None) is not None:
            return super()._json_to_instance(json_dict)
        return reader.text_to_instance(self._tokenizer.tokenize(json_dict["sentence"]))


class InnerModelPredictor(Predictor):
    """
    Registered as a `Predictor` with name "inner_model_default": builds the default predictor of
    the model an archive holds (the model inside a compression wrapper).
    """

    @classmethod
    def for_model(cls, model: Model, dataset_reader: DatasetReader, frozen: bool = True) -> Predictor:
        name = type(model).default_predictor
        if name is None or name == "inner_model_default":
            raise ConfigurationError(f"{type(model).__name__} has no default predictor; pass --predictor NAME")
        return Predictor.by_name(name)(model, dataset_reader, frozen=frozen)


Predictor.register("inner_model_default", constructor="for_model")(InnerModelPredictor)

if BiattentiveClassificationNetwork.default_predictor is None:
    BiattentiveClassificationNetwork.default_predictor = "text_classifier_blank_en"
