"""
Compressible LSTMs: `LstmLayer`, one direction of one layer whose two matrices are separate
modules that the compression core can replace — `input_linearity` (W_i, input → gates, no bias)
and `state_linearity` (W_h, hidden → gates, with the one bias), gate order i, f, g, o as in
`torch.nn.LSTM` — and `CompressibleLstm`, a drop-in `torch.nn.LSTM` (multi-layer, bidirectional,
padded or packed sequences) built of them.

How a layer runs, cheapest first:
- W_h is one matrix (a dense `nn.Linear`, a compressed layer that computes densely such as pruning,
  a staged layer not yet compressed): torch's fused LSTM kernel (`torch._VF.lstm`, what `nn.LSTM`
  runs: oneDNN on CPU, cuDNN on GPU) with the weights [W_i, W_h, b, 0]. A low-rank W_i = U V
  first multiplies the whole sequence by V (rank-r features) and gives U to the kernel as its
  input matrix, so the kernel's input product costs 4·hidden·r per token.
- W_h = U_h V_h is low rank: a Python time loop, with W_i x_t + b for the whole sequence hoisted
  out of it (one matmul); a rank-r W_h costs r(4·hidden + hidden) multiply-adds per step instead
  of 4·hidden². In training it runs at every size (1.3–3x faster than the fused kernel with U_h V_h
  multiplied out, rank 10, hidden 100 to 1150). In inference, below `FACTORED_LOOP_MIN_HIDDEN`,
  the loop's per-step overhead costs more than the dense product: U_h V_h is multiplied out for
  the fused kernel.
- W_i or W_h is a low-precision layer (bf16 or int8, `core.precision`): the time loop, with the
  layers themselves computing W_i x_t for the whole sequence at once (hoisted) and W_h h_t + b at
  each step in their precision; gates and cell state in fp32.
A layer runs one direction: `CompressibleLstm` runs a backward direction on time-reversed
sequences (a row permutation of the packed data), so every direction of every layer has both paths.
"""
import functools
import math
from typing import List, NamedTuple, Optional, Tuple, Union

import torch
from torch import _VF, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence

from allennlp_lstmfact.core.precision import is_low_precision
from allennlp_lstmfact.lm.weight_drop import drop_connect, linear_chain

LstmState = Tuple[torch.Tensor, torch.Tensor]

# Run a W_h that is one matrix in torch's fused kernel (set to False to run every layer in the time loop,
# whose products are all visible, e.g. to count FLOPs with torch.utils.flop_counter).
FUSED_KERNEL = True
# In inference, below this hidden size (on one thread, on two or more) a low-rank W_h is multiplied out
# for the fused kernel: the time loop's per-step cost (a dozen small ops, which more threads do not speed
# up) exceeds the dense 4·hidden² product's. Measured (docs/performance.md, "A low-rank W_h in inference"):
# on one thread the loop is faster from ESIM's 300 units, the kernel at 200 and at BiDAF's 100 with a
# low-rank W_i; on two threads the kernel up to 400, the loop at the AWD-LSTM's 1150.
FACTORED_LOOP_MIN_HIDDEN = (256, 768)


def low_rank_state_runs_loop(hidden_size: int, needs_grad: bool) -> bool:
    """
    Whether a low-rank W_h runs the time loop (else U_h V_h multiplied out for the fused kernel):
    always when it needs a gradient; in inference from `FACTORED_LOOP_MIN_HIDDEN` hidden units.
    """
    return needs_grad or hidden_size >= FACTORED_LOOP_MIN_HIDDEN[min(torch.get_num_threads(), 2) - 1]


class LayerWeights(NamedTuple):
    """The matrices of one forward pass of an `LstmLayer` as chains (see `linear_chain`), DropConnect applied."""

    input_matrices: List[torch.Tensor]
    input_bias: Optional[torch.Tensor]
    state_matrices: List[torch.Tensor]
    state_bias: Optional[torch.Tensor]

    def kernel_weights(self) -> Optional[List[torch.Tensor]]:
        """
        `[W_i (or a low-rank W_i's U), W_h, b_ih, b_hh]` for the fused kernel, whose input is then
        the layer's input times `input_matrices[:-1]`; `None` when the time loop runs instead: W_h a
        product (low rank) that needs a gradient or has a large hidden size (see
        `FACTORED_LOOP_MIN_HIDDEN`), or `FUSED_KERNEL` off.
        """
        if not FUSED_KERNEL:
            return None
        if len(self.state_matrices) > 1:
            hidden_size = self.state_matrices[0].shape[0]
            needs_grad = torch.is_grad_enabled() and any(matrix.requires_grad for matrix in self.state_matrices)
            if low_rank_state_runs_loop(hidden_size, needs_grad):
                return None
        # the product as (4·hidden × hidden) rows, contiguous: a transposed view costs the kernel 10-30 %
        state_weight = functools.reduce(torch.matmul, [matrix.t() for matrix in reversed(self.state_matrices)])
        zeros = state_weight.new_zeros(state_weight.shape[0])
        biases = [zeros if bias is None else bias for bias in (self.input_bias, self.state_bias)]
        return [self.input_matrices[-1].t(), state_weight, *biases]

    def leading_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """`inputs` times the leading matrices of W_i's chain (a low-rank W_i's V): the kernel's input."""
        for matrix in self.input_matrices[:-1]:
            inputs = inputs @ matrix
        return inputs

    def loop_input_gates(self, inputs: torch.Tensor) -> torch.Tensor:
        """W_i x + b for all rows of `inputs` (rows × features) at once."""
        biases = [bias for bias in (self.input_bias, self.state_bias) if bias is not None]
        if not biases:
            return self.leading_inputs(inputs) @ self.input_matrices[-1]
        return torch.addmm(sum(biases[1:], biases[0]), self.leading_inputs(inputs), self.input_matrices[-1])


class LstmLayer(nn.Module):
    """
    One LSTM layer and direction, batch first, with optional DropConnect on W_h during training.

    # Parameters

    input_size : `int`
    hidden_size : `int`
    weight_dropout : `float`, optional (default = `0.0`)
        DropConnect probability on W_h (see `allennlp_lstmfact.lm.weight_drop`); training only.
    bias : `bool`, optional (default = `True`)
        Whether W_h has the (one) bias.
    """

    def __init__(self, input_size: int, hidden_size: int, weight_dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if not 0.0 <= weight_dropout < 1.0:
            raise ValueError(f"weight_dropout must be in [0, 1), got {weight_dropout}")
        self.input_size, self.hidden_size, self.weight_dropout = input_size, hidden_size, weight_dropout
        self.input_linearity = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.state_linearity = nn.Linear(hidden_size, 4 * hidden_size, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """`torch.nn.LSTM`'s initialisation: U(−k, k), k = 1/√hidden; the bias is b_ih + b_hh."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for weight in (self.input_linearity.weight, self.state_linearity.weight):
                weight.uniform_(-bound, bound)
            bias = self.state_linearity.bias
            if bias is not None:
                bias.uniform_(-bound, bound).add_(torch.empty_like(bias).uniform_(-bound, bound))

    @property
    def low_precision(self) -> bool:
        """Whether W_i or W_h is a low-precision layer: the layers then compute their own products."""
        return is_low_precision(self.input_linearity) or is_low_precision(self.state_linearity)

    def weights(self) -> LayerWeights:
        """This forward pass's matrices (one DropConnect mask per call in training)."""
        input_matrices, input_bias = linear_chain(self.input_linearity)
        state_matrices, state_bias = linear_chain(self.state_linearity)
        if self.training:
            state_matrices = drop_connect(state_matrices, self.weight_dropout)
        return LayerWeights(input_matrices, input_bias, state_matrices, state_bias)

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
        hidden, memory = state if state is not None else self.zero_state(inputs, batch_size)
        if self.low_precision:
            time_major = inputs.transpose(0, 1).reshape(num_steps * batch_size, -1)
            outputs, final_state = self.recurrence(self.module_input_gates(time_major).split(batch_size), hidden,
                                                   memory, None)
            return torch.stack(outputs, dim=1), final_state
        weights = self.weights()
        kernel_weights = weights.kernel_weights()
        if kernel_weights is not None:
            outputs, hidden, memory = _VF.lstm(weights.leading_inputs(inputs), (hidden[None], memory[None]),
                                               kernel_weights, True, 1, 0.0, self.training, False, True)
            return outputs, (hidden[0], memory[0])
        # (time · batch, 4·hidden): W_i x_t + b for every step at once.
        gates = weights.loop_input_gates(inputs.transpose(0, 1).reshape(num_steps * batch_size, -1))
        outputs, final_state = self.recurrence(gates.split(batch_size), hidden, memory, weights)
        return torch.stack(outputs, dim=1), final_state

    def run_packed(self, data: torch.Tensor, batch_sizes: torch.Tensor, state: LstmState,
                   reversal: Optional[torch.Tensor] = None, weights: Optional[LayerWeights] = None
                   ) -> Tuple[torch.Tensor, LstmState]:
        """
        This layer over the data of a `PackedSequence` (time major, rows sorted by length), from
        `state` (h, c) of shape (batch, hidden_size); with `reversal` (see `reversal_index`) over
        every sequence backwards in time; with `weights` (default: `self.weights()`; unused by a
        low-precision layer). Returns the output data and the final (h, c).
        """
        if self.low_precision:
            gates = self.module_input_gates(data if reversal is None else data[reversal])
            step_outputs, final_state = self.recurrence(gates.split(batch_sizes.tolist()), *state, None)
            outputs = torch.cat(step_outputs)
            return (outputs if reversal is None else outputs[reversal]), final_state
        weights = self.weights() if weights is None else weights
        kernel_weights = weights.kernel_weights()
        hidden, memory = state
        if kernel_weights is not None:
            inputs = weights.leading_inputs(data)
            inputs = inputs if reversal is None else inputs[reversal]
            outputs, hidden, memory = _VF.lstm(inputs, batch_sizes, (hidden[None], memory[None]), kernel_weights,
                                               True, 1, 0.0, self.training, False)
            final_state = (hidden[0], memory[0])
        else:
            # permute whichever is narrower: the inputs or their gates
            permute_inputs = reversal is not None and data.shape[1] <= 4 * self.hidden_size
            gates = weights.loop_input_gates(data[reversal] if permute_inputs else data)
            if reversal is not None and not permute_inputs:
                gates = gates[reversal]
            step_outputs, final_state = self.recurrence(gates.split(batch_sizes.tolist()), hidden, memory, weights)
            outputs = torch.cat(step_outputs)
        return (outputs if reversal is None else outputs[reversal]), final_state

    def module_input_gates(self, inputs: torch.Tensor) -> torch.Tensor:
        """W_i x for all rows of `inputs` as the `input_linearity` module computes it."""
        return self.input_linearity(inputs)

    def recurrence(self, steps: List[torch.Tensor], hidden: torch.Tensor, memory: torch.Tensor,
                   weights: Optional[LayerWeights]) -> Tuple[List[torch.Tensor], LstmState]:
        """
        The time loop over each step's input gates (`loop_input_gates`; the rows of a step a prefix of
        the previous step's, as in a packed sequence); returns each step's h and the final (h, c) of
        every row. When nothing needs a gradient the gate nonlinearities run in place. Without
        `weights` (a low-precision layer) the `state_linearity` module computes W_h h + b at each step.
        """
        size = self.hidden_size
        if weights is None:
            state_matrices = []

            def step_gates(step_input_gates, hidden):
                return self.state_linearity(hidden).add_(step_input_gates)
        else:
            state_matrices = weights.state_matrices
            *leading, last = state_matrices
            # contiguous: addmm with a transposed (r × 4·hidden) factor is 3x slower
            last = last.contiguous()

            def step_gates(step_input_gates, hidden):
                for matrix in leading:
                    hidden = hidden @ matrix
                return torch.addmm(step_input_gates, hidden, last)
        in_place = not torch.is_grad_enabled() or not any(
            tensor.requires_grad for tensor in (*steps[:1], hidden, memory, *state_matrices))
        outputs, finished = [], []
        # split, not input_gates[step]: the backward of 70 indexings would write 70 full-size zero
        # gradients (O(T²) memory traffic, most of a training step); split's backward concatenates once.
        for step_input_gates in steps:
            rows = step_input_gates.shape[0]
            if rows < hidden.shape[0]:  # the sequences from row `rows` on have ended
                finished.append((hidden[rows:], memory[rows:]))
                hidden, memory = hidden[:rows], memory[:rows]
            gates = step_gates(step_input_gates, hidden)  # gate order i, f, g, o
            if in_place:
                gates[:, :2 * size].sigmoid_()
                gates[:, 3 * size:].sigmoid_()
                gates[:, 2 * size:3 * size].tanh_()
                input_gate, forget_gate, candidate, output_gate = gates.split(size, 1)
                memory = (forget_gate * memory).addcmul_(input_gate, candidate)
                hidden = torch.tanh(memory).mul_(output_gate)
            else:
                # one sigmoid over all four gates (the candidate's quarter unused) costs less than a third op
                input_gate, forget_gate, _, output_gate = torch.sigmoid(gates).split(size, 1)
                memory = torch.addcmul(forget_gate * memory, input_gate, torch.tanh(gates[:, 2 * size:3 * size]))
                hidden = output_gate * torch.tanh(memory)
            outputs.append(hidden)
        if finished:
            hidden = torch.cat([hidden, *(h for h, _ in reversed(finished))])
            memory = torch.cat([memory, *(c for _, c in reversed(finished))])
        return outputs, (hidden, memory)

    def zero_state(self, inputs: torch.Tensor, batch_size: int) -> LstmState:
        zeros = inputs.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros

    @classmethod
    def from_torch_lstm(cls, lstm: nn.LSTM, weight_dropout: float = 0.0, *, layer: int = 0,
                        reverse: bool = False) -> "LstmLayer":
        """
        A layer with the weights of layer `layer` (its backward direction if `reverse`) of a
        `torch.nn.LSTM` without projection; parameters keep `requires_grad`, dtype and device.
        """
        if lstm.proj_size:
            raise ValueError(f"an nn.LSTM with projections (proj_size={lstm.proj_size}) does not convert")
        if not 0 <= layer < lstm.num_layers or (reverse and not lstm.bidirectional):
            raise ValueError(f"the nn.LSTM has {lstm.num_layers} layer(s), bidirectional={lstm.bidirectional}; "
                             f"no layer {layer}{' (reverse)' if reverse else ''}")
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        weight_ih, weight_hh = getattr(lstm, "weight_ih" + suffix), getattr(lstm, "weight_hh" + suffix)
        converted = cls(weight_ih.shape[1], lstm.hidden_size, weight_dropout, bias=lstm.bias)
        converted.to(device=weight_ih.device, dtype=weight_ih.dtype)
        with torch.no_grad():
            converted.input_linearity.weight.copy_(weight_ih)
            converted.state_linearity.weight.copy_(weight_hh)
            if lstm.bias:
                converted.state_linearity.bias.copy_(getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix))
        converted.input_linearity.weight.requires_grad_(weight_ih.requires_grad)
        converted.state_linearity.weight.requires_grad_(weight_hh.requires_grad)
        if lstm.bias:
            converted.state_linearity.bias.requires_grad_(getattr(lstm, "bias_hh" + suffix).requires_grad)
        return converted

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, weight_dropout={self.weight_dropout}"


def reversal_index(batch_sizes: torch.Tensor) -> torch.Tensor:
    """
    The permutation of a packed sequence's rows that reverses every sequence in time (its own
    inverse): row (t, b) of a sequence of length L_b goes to (L_b − 1 − t, b).
    """
    steps, rows = len(batch_sizes), int(batch_sizes[0])
    starts = torch.cumsum(batch_sizes, 0) - batch_sizes
    row = torch.arange(rows).expand(steps, rows)
    lengths = (batch_sizes[None, :] > torch.arange(rows)[:, None]).sum(1)
    reversed_step = (lengths[None, :] - 1 - torch.arange(steps)[:, None]).clamp(min=0)
    return (starts[reversed_step] + row)[row < batch_sizes[:, None]]


class CompressibleLstm(nn.Module):
    """
    `torch.nn.LSTM` (no projections) built of `LstmLayer`s named `forward_layer_{k}` and
    `backward_layer_{k}` (as in ELMo), so that every W_i and W_h is a module the compression core
    can replace: same arguments, inputs (a padded tensor or a `PackedSequence`, optional initial
    (h_0, c_0)) and outputs (outputs, (h_n, c_n)); dropout between layers in training.

    While every W_i and W_h is one matrix it runs as `nn.LSTM` does, in one call of the fused
    kernel; otherwise layer by layer and direction by direction (see the module's docstring).
    The bias of each layer and direction is b_ih + b_hh, on W_h.

    # Parameters

    input_size, hidden_size : `int`
    num_layers : `int`, optional (default = `1`)
    bias, batch_first : `bool`, optional (default = `True`, `False`)
    dropout : `float`, optional (default = `0.0`)
        Dropout on the outputs of every layer but the last, in training.
    bidirectional : `bool`, optional (default = `False`)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        self.directions = ("forward", "backward") if bidirectional else ("forward",)
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size * len(self.directions)
            for direction in self.directions:
                self.add_module(f"{direction}_layer_{k}", LstmLayer(layer_input, hidden_size, bias=bias))

    @classmethod
    def from_torch_lstm(cls, lstm: nn.LSTM) -> "CompressibleLstm":
        """The equivalent of `lstm` (its weights copied; `lstm` is left untouched)."""
        if type(lstm) is not nn.LSTM:
            raise ValueError(f"expected a torch.nn.LSTM, got {type(lstm).__name__}")
        if lstm.proj_size:
            raise ValueError(f"an nn.LSTM with projections (proj_size={lstm.proj_size}) does not convert")
        converted = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bias, lstm.batch_first,
                        float(lstm.dropout), lstm.bidirectional)
        for k in range(lstm.num_layers):
            for direction in converted.directions:
                setattr(converted, f"{direction}_layer_{k}",
                        LstmLayer.from_torch_lstm(lstm, layer=k, reverse=direction == "backward"))
        converted.train(lstm.training)
        return converted

    def layers(self) -> List[List[LstmLayer]]:
        """`[[forward_layer_k, backward_layer_k], ...]` (one direction if not bidirectional)."""
        return [[getattr(self, f"{direction}_layer_{k}") for direction in self.directions]
                for k in range(self.num_layers)]

    def forward(self, inputs: Union[torch.Tensor, PackedSequence], hx: Optional[LstmState] = None
                ) -> Tuple[Union[torch.Tensor, PackedSequence], LstmState]:
        packed = isinstance(inputs, PackedSequence)
        if not packed and inputs.dim() != 3:
            raise ValueError(f"CompressibleLstm expects a 3-d input (or a PackedSequence), got shape "
                             f"{tuple(inputs.shape)}")
        batch_size = int(inputs.batch_sizes[0]) if packed else inputs.shape[0 if self.batch_first else 1]
        if hx is None:
            zeros = inputs[0].new_zeros(self.num_layers * len(self.directions), batch_size, self.hidden_size)
            hx = (zeros, zeros)
        elif packed and inputs.sorted_indices is not None:
            hx = (hx[0].index_select(1, inputs.sorted_indices), hx[1].index_select(1, inputs.sorted_indices))
        weights = [[None if layer.low_precision else layer.weights() for layer in directions]
                   for directions in self.layers()]
        flat_weights = self._single_call_weights(weights)
        options = (self.num_layers, self.dropout, self.training, self.bidirectional)
        if flat_weights is not None and not packed:  # exactly nn.LSTM's call
            return self._outputs(inputs, *_VF.lstm(inputs, hx, flat_weights, True, *options, self.batch_first))
        if packed:
            data, batch_sizes = inputs.data, inputs.batch_sizes
        else:
            time_major = inputs.transpose(0, 1) if self.batch_first else inputs
            data = time_major.reshape(-1, inputs.shape[-1])
            batch_sizes = torch.full((time_major.shape[0],), batch_size, dtype=torch.long)
        if flat_weights is not None:
            results = _VF.lstm(data, batch_sizes, hx, flat_weights, True, *options)
        else:
            results = self._run_layer_by_layer(data, batch_sizes, hx, weights)
        return self._outputs(inputs, *results)

    def _outputs(self, inputs: Union[torch.Tensor, PackedSequence], outputs: torch.Tensor, hidden: torch.Tensor,
                 memory: torch.Tensor) -> Tuple[Union[torch.Tensor, PackedSequence], LstmState]:
        """The outputs in the form of `inputs` (packed data, time-major rows or the kernel's padded outputs)."""
        if isinstance(inputs, PackedSequence):
            if inputs.unsorted_indices is not None:
                hidden = hidden.index_select(1, inputs.unsorted_indices)
                memory = memory.index_select(1, inputs.unsorted_indices)
            return PackedSequence(outputs, inputs.batch_sizes, inputs.sorted_indices, inputs.unsorted_indices), \
                (hidden, memory)
        if outputs.dim() == 2:  # time-major rows
            num_steps, batch_size = (inputs.shape[1], inputs.shape[0]) if self.batch_first else inputs.shape[:2]
            outputs = outputs.view(num_steps, batch_size, -1)
            outputs = outputs.transpose(0, 1).contiguous() if self.batch_first else outputs
        return outputs, (hidden, memory)

    @staticmethod
    def _single_call_weights(weights: List[List[Optional[LayerWeights]]]) -> Optional[List[torch.Tensor]]:
        """nn.LSTM's flat weights when every layer runs in the fused kernel on its plain input, else `None`."""
        flat = []
        for directions in weights:
            for layer_weights in directions:
                if layer_weights is None:  # a low-precision layer
                    return None
                kernel_weights = layer_weights.kernel_weights()
                if kernel_weights is None or len(layer_weights.input_matrices) > 1:
                    return None
                flat.extend(kernel_weights)
        return flat

    @torch.no_grad()
    def layer_activations(self, inputs: Union[torch.Tensor, PackedSequence]
                          ) -> List[Tuple[torch.Tensor, List[torch.Tensor]]]:
        """
        Per layer, its input rows and each direction's output rows (time-major; a packed input's
        real steps only), from zero states without dropout: what calibration observes of the
        layers' matrices, which the fused kernel calls no module for.
        """
        if isinstance(inputs, PackedSequence):
            data, batch_sizes = inputs.data, inputs.batch_sizes
        else:
            time_major = inputs.transpose(0, 1) if self.batch_first else inputs
            data = time_major.reshape(-1, inputs.shape[-1])
            batch_sizes = torch.full((time_major.shape[0],), time_major.shape[1], dtype=torch.long)
        zeros = data.new_zeros(self.num_layers * len(self.directions), int(batch_sizes[0]), self.hidden_size)
        record: List[Tuple[torch.Tensor, List[torch.Tensor]]] = []
        weights = [[layer.weights() for layer in directions] for directions in self.layers()]
        self._run_layer_by_layer(data, batch_sizes, (zeros, zeros), weights, record)
        return record

    def _run_layer_by_layer(self, data: torch.Tensor, batch_sizes: torch.Tensor, hx: LstmState,
                            weights: List[List[Optional[LayerWeights]]], record: Optional[list] = None
                            ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        reversal = reversal_index(batch_sizes) if self.bidirectional else None
        hidden, memory = [], []
        for k, directions in enumerate(self.layers()):
            if k and self.dropout:
                data = F.dropout(data, self.dropout, self.training)
            outputs = []
            if record is not None:
                record.append((data, outputs))
            for d, layer in enumerate(directions):
                index = k * len(directions) + d
                output, (h, c) = layer.run_packed(data, batch_sizes, (hx[0][index], hx[1][index]),
                                                  reversal if d else None, weights[k][d])
                outputs.append(output)
                hidden.append(h)
                memory.append(c)
            data = torch.cat(outputs, 1) if len(outputs) > 1 else outputs[0]
        return data, torch.stack(hidden), torch.stack(memory)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}, dropout={self.dropout}, bidirectional={self.bidirectional}")
