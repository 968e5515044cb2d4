"""ELMo's bidirectional language model, trained from scratch as an AllenNLP `Model`."""
from typing import Any, Dict

import torch
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model

from allennlp_lstmfact.bilm.dataset_reader import CHARACTERS, WORDS
from allennlp_lstmfact.perplexity import TokenPerplexity
from allennlp_lstmfact.bilm.weights import check_bilm_options, trainable_bilm


@Model.register("elmo_bilm")
class ElmoBidirectionalLm(Model):
    """
    ELMo's biLM (Peters et al., 2018) trained from scratch: allennlp's own `_ElmoBiLm` (character
    CNN, highways, projection; forward and backward stacks of `LstmCellWithProjection` with cell and
    projection clipping and skip connections), built from fresh bilm-tf-style weights with every
    weight trainable, under one softmax over the word vocabulary shared by both directions, as in
    ELMo. The forward LM predicts each word from the words before it (the first from `<S>`, then
    `</S>` after the last); the backward LM each word from the words after it. The loss is the mean
    of both directions' per-token cross entropies. `allennlp_lstmfact.bilm.export_elmo` writes the
    biLM as ELMo files that stock `Elmo` loads.

    Metrics: `forward_perplexity`, `backward_perplexity` and `perplexity` (exp of the cross entropy
    averaged over every prediction of both directions), token-weighted over the split.

    `ElmoLstm` is stateful: by default each call starts from the final states its rows reached in
    the previous call, which is how stock `Elmo` runs. With shuffled batches those states come from
    unrelated sentences, so this model resets them before every batch (`carry_states=False`): each
    sentence is scored from zero states, and perplexity does not depend on batch order or
    composition. `carry_states=True` keeps `Elmo`'s behaviour (e.g. to measure the exported biLM as
    `Elmo` will run it).

    Registered as a `Model` with name "elmo_bilm".

    # Parameters

    vocab : `Vocabulary`
    options : `Dict[str, Any]`
        The architecture, as the `lstm` and `char_cnn` sections of an ELMo options JSON (exported unchanged).
    dropout : `float`, optional (default = `0.1`)
        Dropout on the top layer's states before the softmax.
    carry_states : `bool`, optional (default = `False`)
        Keep `ElmoLstm`'s states across batches instead of resetting them before each batch.
    init_seed : `int`, optional (default = `0`)
        Seed of the biLM's initial weights.
    words_namespace : `str`, optional (default = `"words"`)
        Vocabulary namespace of the target words (the reader's `words_namespace`).
    """

    def __init__(self, vocab: Vocabulary, options: Dict[str, Any], dropout: float = 0.1, carry_states: bool = False,
                 init_seed: int = 0, words_namespace: str = WORDS, **kwargs) -> None:
        super().__init__(vocab, **kwargs)
        check_bilm_options(options)
        self.options = options
        self.bilm = trainable_bilm(options, seed=init_seed)
        self.carry_states = carry_states
        self.words_namespace = words_namespace
        self._projection_dim = options["lstm"]["projection_dim"]
        self._dropout = torch.nn.Dropout(dropout)
        self._softmax = torch.nn.Linear(self._projection_dim, vocab.get_vocab_size(words_namespace))
        self._perplexities = {direction: TokenPerplexity() for direction in ("forward", "backward", "both")}

    def forward(self, characters: TextFieldTensors, words: TextFieldTensors) -> Dict[str, torch.Tensor]:  # type: ignore
        """
        # Parameters

        characters : `TextFieldTensors`
            The sentences as ELMo character ids, `(batch_size, timesteps, 50)`, without boundary tokens.
        words : `TextFieldTensors`
            `<S>`, the sentences, `</S>` as word ids, `(batch_size, timesteps + 2)`.

        # Returns

        `loss` (mean cross entropy per prediction, both directions), and per direction
        `{forward,backward}_cross_entropy` (summed) and `num_predictions`.
        """
        if not self.carry_states:
            self.bilm._elmo_lstm.reset_states()
        output = self.bilm(characters[CHARACTERS]["elmo_tokens"])
        word_ids, mask = words[WORDS]["tokens"], output["mask"]
        if word_ids.shape != mask.shape:
            raise ValueError(f"`words` must be the sentences with <S> and </S>, shape {tuple(mask.shape)}; "
                             f"got {tuple(word_ids.shape)}")
        top = self._dropout(output["activations"][-1])
        forward_states, backward_states = top.split(self._projection_dim, dim=-1)
        # A position predicts its neighbour; every pair of neighbours inside a sentence is one prediction.
        pairs = mask[:, 1:]
        forward_loss = self._cross_entropy(forward_states[:, :-1][pairs], word_ids[:, 1:][pairs])
        backward_loss = self._cross_entropy(backward_states[:, 1:][pairs], word_ids[:, :-1][pairs])
        num_predictions = pairs.sum()
        self._perplexities["forward"](forward_loss, num_predictions)
        self._perplexities["backward"](backward_loss, num_predictions)
        self._perplexities["both"](forward_loss + backward_loss, 2 * num_predictions)
        return {"loss": (forward_loss + backward_loss) / (2 * num_predictions),
                "forward_cross_entropy": forward_loss, "backward_cross_entropy": backward_loss,
                "num_predictions": num_predictions}

    def _cross_entropy(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(self._softmax(states), targets, reduction="sum")

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        return {"forward_perplexity": self._perplexities["forward"].get_metric(reset),
                "backward_perplexity": self._perplexities["backward"].get_metric(reset),
                "perplexity": self._perplexities["both"].get_metric(reset)}
