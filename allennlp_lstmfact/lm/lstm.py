"""
A one-layer LSTM whose two matrices are separate `nn.Linear` modules, so that the compression
core can replace them: `input_linearity` (W_i, input → gates, no bias) and `state_linearity`
(W_h, hidden → gates, with the one bias). Gate order i, f, g, o, as in `torch.nn.LSTM`.

W_i x_t does not depend on the state: it is computed for the whole sequence in one matmul
before the time loop; only W_h h_{t-1} runs inside it (with the factors of a `LowRankLinear`,
so a rank-r W_h costs r(4·hidden + hidden) multiply-adds per step instead of 4·hidden²).
"""
import math
from typing import Optional, Tuple

import torch
from torch import nn

from allennlp_lstmfact.lm.weight_drop import drop_connect, linear_chain

LstmState = Tuple[torch.Tensor, torch.Tensor]


class LstmLayer(nn.Module):
    """
    One LSTM layer, batch first, with optional DropConnect on W_h during training.

    # Parameters

    input_size : `int`
    hidden_size : `int`
    weight_dropout : `float`, optional (default = `0.0`)
        DropConnect probability on W_h (see `allennlp_lstmfact.lm.weight_drop`); training only.
    """

    def __init__(self, input_size: int, hidden_size: int, weight_dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= weight_dropout < 1.0:
            raise ValueError(f"weight_dropout must be in [0, 1), got {weight_dropout}")
        self.input_size, self.hidden_size, self.weight_dropout = input_size, hidden_size, weight_dropout
        self.input_linearity = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.state_linearity = nn.Linear(hidden_size, 4 * hidden_size, bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """`torch.nn.LSTM`'s initialisation: U(−k, k), k = 1/√hidden; the bias is b_ih + b_hh."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for weight in (self.input_linearity.weight, self.state_linearity.weight):
                weight.uniform_(-bound, bound)
            bias = self.state_linearity.bias
            bias.uniform_(-bound, bound).add_(torch.empty_like(bias).uniform_(-bound, bound))

    def forward(self, inputs: torch.Tensor, state: Optional[LstmState] = None) -> Tuple[torch.Tensor, LstmState]:
        """
        # Parameters

        inputs : `torch.Tensor`
            (batch, time, input_size).
        state : `Tuple[torch.Tensor, torch.Tensor]`, optional
            (h, c), each (batch, hidden_size); zeros when `None`.

        # Returns

        outputs (batch, time, hidden_size) and the final (h, c).
        """
        batch_size, num_steps, _ = inputs.shape
        if state is None:
            zeros = inputs.new_zeros(batch_size, self.hidden_size)
            state = (zeros, zeros)
        hidden, memory = state
        matrices, bias = linear_chain(self.state_linearity)
        if self.training:
            matrices = drop_connect(matrices, self.weight_dropout)
        # (time, batch, 4·hidden): W_i x_t + b for every step at once.
        input_gates = self.input_linearity(inputs.transpose(0, 1))
        if bias is not None:
            input_gates = input_gates + bias
        *leading, last = matrices
        size = self.hidden_size
        outputs = []
        # unbind, not input_gates[step]: the backward of 70 indexings would write 70 full-size zero
        # gradients (O(T²) memory traffic, most of a training step); unbind's backward stacks once.
        for step, step_input_gates in enumerate(input_gates.unbind(0)):
            projected = hidden
            for matrix in leading:
                projected = projected @ matrix
            gates = torch.addmm(step_input_gates, projected, last)
            sigmoids = torch.sigmoid(gates)
            candidate = torch.tanh(gates[:, 2 * size:3 * size])
            memory = torch.addcmul(sigmoids[:, size:2 * size] * memory, sigmoids[:, :size], candidate)
            hidden = sigmoids[:, 3 * size:] * torch.tanh(memory)
            outputs.append(hidden)
        return torch.stack(outputs, dim=1), (hidden, memory)

    @classmethod
    def from_torch_lstm(cls, lstm: nn.LSTM, weight_dropout: float = 0.0) -> "LstmLayer":
        """A layer with the weights of a one-layer, unidirectional, batch-first `torch.nn.LSTM`."""
        if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first or lstm.proj_size:
            raise ValueError("only a one-layer, unidirectional, batch-first nn.LSTM without projection converts")
        layer = cls(lstm.input_size, lstm.hidden_size, weight_dropout)
        with torch.no_grad():
            layer.input_linearity.weight.copy_(lstm.weight_ih_l0)
            layer.state_linearity.weight.copy_(lstm.weight_hh_l0)
            if lstm.bias:
                layer.state_linearity.bias.copy_(lstm.bias_ih_l0 + lstm.bias_hh_l0)
            else:
                layer.state_linearity.bias.zero_()
        return layer

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, weight_dropout={self.weight_dropout}"
