"""
An ELMo-architecture biLM trained from scratch (model `elmo_bilm`, readers `bilm_sentences` and
`bilm_corpora`) and its export as the ELMo files stock `allennlp.modules.elmo.Elmo` loads (`export_elmo`).
"""
from allennlp_lstmfact.bilm.dataset_reader import BilmSentencesReader
from allennlp_lstmfact.bilm.corpora import BilmCorporaReader
from allennlp_lstmfact.bilm.model import ElmoBidirectionalLm
from allennlp_lstmfact.perplexity import TokenPerplexity
from allennlp_lstmfact.bilm.weights import (bilm_tf_weights, check_bilm_options, export_elmo, find_bilm,
                                            initial_bilm_weights, trainable_bilm)
