"""
The AWD-LSTM language model (Merity et al. 2018) with compressible LSTM matrices, as AllenNLP
components: readers `ptb_lm` / `wikitext_lm`, the data loader `bptt_stream`, the models
`awd_lstm_lm` and `compressed_from_pretrained`, the moving average `triggered_uniform` and the
callbacks `nt_asgd`, `bptt_lr_scaling` and `perplexity_trajectory`.
"""
from allennlp_lstmfact.lm.bptt_lr_scaling import BpttLearningRateScaling
from allennlp_lstmfact.lm.compression import CompressedFromPretrained, LanguageModelCompression
from allennlp_lstmfact.lm.data_loader import BpttStreamDataLoader
from allennlp_lstmfact.lm.dataset_reader import LineStreamReader
from allennlp_lstmfact.lm.lstm import LstmLayer
from allennlp_lstmfact.lm.model import AwdLstmLanguageModel
from allennlp_lstmfact.lm.nt_asgd import NonMonotonicTrigger, TriggeredUniformAverage
from allennlp_lstmfact.lm.perplexity_trajectory import PerplexityTrajectory
from allennlp_lstmfact.lm.vocabulary_compression import MaskedEmbedding, VocabularyCompression
