"""
AWD-LSTM (Merity, Keskar & Socher 2018, "Regularizing and Optimizing LSTM Language Models").
"""
import logging
from typing import Dict, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.nn import InitializerApplicator, RegularizerApplicator
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.lm.compression import LanguageModelCompression
from allennlp_lstmfact.lm.dropout import LockedDropout, embed_with_word_dropout
from allennlp_lstmfact.lm.lstm import LstmLayer, LstmState
from allennlp_lstmfact.perplexity import TokenPerplexity

logger = logging.getLogger(__name__)

IGNORED_TARGET = -100  # cross_entropy's ignore_index, put at masked targets


@Model.register("awd_lstm_lm")
class AwdLstmLanguageModel(Model):
    """
    A stack of `LstmLayer`s between tied input/output embeddings, with AWD-LSTM's regularization:
    embedding dropout, locked dropout on the embeddings, between layers and on the output,
    DropConnect on every W_h, activation (AR) and temporal activation (TAR) regularization.

    It reads the batches of `bptt_stream` and carries its hidden state (detached) from one batch
    to the next, separately in training and in evaluation mode; `reset_state` starts from zeros.
    The padding token, if the namespace has one, is excluded from the softmax, so the model
    predicts over exactly the corpus vocabulary (10,000 words on PTB).

    Registered as a `Model` with name "awd_lstm_lm". Defaults: the paper's PTB model (24M parameters).

    # Parameters

    vocab : `Vocabulary`
    embedding_dim : `int`, optional (default = `400`)
    hidden_size : `int`, optional (default = `1150`)
        Of every layer but the last, whose size is `embedding_dim` when the weights are tied.
    num_layers : `int`, optional (default = `3`)
    output_dropout : `float`, optional (default = `0.4`)
        Locked dropout on the last layer's output (awd-lstm-lm's `dropout`).
    layer_dropout : `float`, optional (default = `0.25`)
        Locked dropout between layers (`dropouth`).
    input_dropout : `float`, optional (default = `0.4`)
        Locked dropout on the embeddings (`dropouti`).
    embedding_dropout : `float`, optional (default = `0.1`)
        Word-type dropout of the embedding matrix (`dropoute`). On a compressed embedding it drops
        the looked-up rows the same way: for GroupReduce/SVD factors that is the dropped words' rows
        of U (their coefficients); the shared bases V and, in a tied model, the softmax are untouched.
    weight_dropout : `float`, optional (default = `0.5`)
        DropConnect on W_h (`wdrop`).
    tie_weights : `bool`, optional (default = `True`)
    activation_regularization : `float`, optional (default = `2.0`)
        AR: α · mean of the squared (dropped) last-layer outputs (`alpha`).
    temporal_activation_regularization : `float`, optional (default = `1.0`)
        TAR: β · mean of the squared differences of consecutive raw last-layer outputs (`beta`).
    namespace : `str`, optional (default = `"tokens"`)
    compression : `LanguageModelCompression`, optional (default = `None`)
        Compress LSTM matrices and/or the vocabulary matrices right after construction (training a
        compressed model from scratch; to compress a trained model use `compressed_from_pretrained`).
        Compressed vocabulary matrices replace `embedding` (and `output_projection` when untied) by
        modules that compute the lookup and the logits from their factors (or pruned weights).
    initializer : `InitializerApplicator`, optional (default = `None`)
        Applied after the default initialisation (embedding U(−0.1, 0.1), output bias 0, LSTM as torch).
    """

    def __init__(self, vocab: Vocabulary, embedding_dim: int = 400, hidden_size: int = 1150, num_layers: int = 3,
                 output_dropout: float = 0.4, layer_dropout: float = 0.25, input_dropout: float = 0.4,
                 embedding_dropout: float = 0.1, weight_dropout: float = 0.5, tie_weights: bool = True,
                 activation_regularization: float = 2.0, temporal_activation_regularization: float = 1.0,
                 namespace: str = "tokens", compression: Optional[LanguageModelCompression] = None,
                 initializer: Optional[InitializerApplicator] = None,
                 regularizer: Optional[RegularizerApplicator] = None, **kwargs) -> None:
        super().__init__(vocab, regularizer, **kwargs)
        if num_layers < 1:
            raise ConfigurationError(f"num_layers must be at least 1, got {num_layers}")
        for name, value in (("output_dropout", output_dropout), ("layer_dropout", layer_dropout),
                            ("input_dropout", input_dropout), ("embedding_dropout", embedding_dropout),
                            ("weight_dropout", weight_dropout)):
            if not 0.0 <= value < 1.0:
                raise ConfigurationError(f"{name} must be in [0, 1), got {value}")
        self.namespace = namespace
        vocab_size = vocab.get_vocab_size(namespace)
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        last_size = embedding_dim if tie_weights else hidden_size
        sizes = [embedding_dim] + [hidden_size] * (num_layers - 1) + [last_size]
        self.lstm_layers = nn.ModuleList(
            LstmLayer(sizes[k], sizes[k + 1], weight_dropout) for k in range(num_layers))
        self.input_dropout = LockedDropout(input_dropout)
        self.layer_dropout = LockedDropout(layer_dropout)
        self.output_dropout = LockedDropout(output_dropout)
        self.embedding_dropout = embedding_dropout
        self.output_projection = None if tie_weights else nn.Parameter(torch.empty(vocab_size, last_size))
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        self.activation_regularization = activation_regularization
        self.temporal_activation_regularization = temporal_activation_regularization
        # -inf on the padding logit, if any: the softmax covers the corpus vocabulary only.
        excluded = torch.zeros(vocab_size)
        padding = vocab._padding_token
        if padding in vocab.get_token_to_index_vocabulary(namespace):
            excluded[vocab.get_token_index(padding, namespace)] = float("-inf")
        self.register_buffer("_excluded_logits", excluded, persistent=False)
        self._perplexity = TokenPerplexity()
        self._carried: Dict[bool, Optional[List[LstmState]]] = {True: None, False: None}
        self._reset_parameters()
        if initializer is not None:
            initializer(self)
        if compression is not None and compression.ranks_depend_on_weights:
            raise ConfigurationError(f"compression {compression.size()} chooses ranks from trained weights, and a "
                                     "model built from its config has none: compress a trained archive "
                                     "(compressed_from_pretrained, `allennlp compress`) or give rank or a uniform "
                                     "budget")
        self.compression_report = compression.apply(self) if compression is not None else None
        logger.info("AWD-LSTM: %d parameters", count_parameters(self))

    def _reset_parameters(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if self.output_projection is not None:
            nn.init.uniform_(self.output_projection, -0.1, 0.1)

    def forward(self, tokens: torch.Tensor, targets: Optional[torch.Tensor] = None,  # type: ignore[override]
                mask: Optional[torch.Tensor] = None, reset_state: bool = False) -> Dict[str, torch.Tensor]:
        """
        # Parameters

        tokens : `torch.Tensor`
            (batch, steps) token ids, continuing the previous batch's rows unless `reset_state`.
        targets : `torch.Tensor`, optional
            (batch, steps) the next token ids; without them no loss is computed.
        mask : `torch.Tensor`, optional
            (batch, steps) bool, `False` at padded targets.
        reset_state : `bool`, optional (default = `False`)

        # Returns

        `loss` (mean cross-entropy per target token, plus AR/TAR in training), `sequence_length`,
        and, without targets, `log_probs` (batch, steps, vocabulary).
        """
        state = self._initial_state(tokens.shape[0], reset_state)
        layer_input = self.input_dropout(embed_with_word_dropout(
            self.embedding, tokens, self.embedding_dropout, self.training))
        final_states = []
        for depth, layer in enumerate(self.lstm_layers):
            raw_output, final_state = layer(layer_input, state[depth] if state is not None else None)
            final_states.append(final_state)
            is_last = depth == len(self.lstm_layers) - 1
            layer_input = (self.output_dropout if is_last else self.layer_dropout)(raw_output)
        self._carried[self.training] = [(h.detach(), c.detach()) for h, c in final_states]

        logits = self._logits(layer_input)
        output: Dict[str, torch.Tensor] = {"sequence_length": tokens.shape[1]}
        if targets is None:
            output["log_probs"] = F.log_softmax(logits, dim=-1)
            return output
        mask = torch.ones_like(targets, dtype=torch.bool) if mask is None else mask
        kept_targets = targets.masked_fill(~mask, IGNORED_TARGET).reshape(-1)
        total_nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), kept_targets, reduction="sum",
                                    ignore_index=IGNORED_TARGET)
        num_tokens = int(mask.sum())
        self._perplexity(total_nll.detach(), num_tokens)
        loss = total_nll / max(num_tokens, 1)
        if self.training:
            loss = loss + self._activation_penalties(layer_input, raw_output)
        output["loss"] = loss
        return output

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """h·Wᵀ + b over the vocabulary, −inf at the padding token; a compressed W computes from its factors."""
        bias = self.output_bias + self._excluded_logits
        softmax = self.embedding if self.output_projection is None else self.output_projection
        if hasattr(softmax, "logits"):  # GroupReduceEmbedding, MaskedEmbedding
            return softmax.logits(hidden) + bias
        weight = softmax.weight if isinstance(softmax, nn.Embedding) else softmax
        return F.linear(hidden, weight, bias)

    def _activation_penalties(self, dropped_output: torch.Tensor, raw_output: torch.Tensor) -> torch.Tensor:
        penalty = self.activation_regularization * dropped_output.pow(2).mean()
        if raw_output.shape[1] > 1:
            steps = raw_output[:, 1:] - raw_output[:, :-1]
            penalty = penalty + self.temporal_activation_regularization * steps.pow(2).mean()
        return penalty

    def _initial_state(self, batch_size: int, reset: bool) -> Optional[List[LstmState]]:
        carried = self._carried[self.training]
        if reset or carried is None or carried[0][0].shape[0] != batch_size:
            return None
        return carried

    def reset_states(self) -> None:
        """Forget the carried hidden states (both modes)."""
        self._carried = {True: None, False: None}

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        num_tokens = float(self._perplexity.num_tokens)
        return {"perplexity": self._perplexity.get_metric(reset), "num_tokens": num_tokens}
