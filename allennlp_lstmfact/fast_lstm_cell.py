"""
A faster forward pass for ELMo's `LstmCellWithProjection` and char CNN, with the same parameters and
results (max |difference| to stock ELMo about 3e-7).

The stock cell applies W_i to one timestep at a time inside its Python loop and clones the whole
batch's state twice per step. Here W_i x_t is computed for the whole sequence in one matmul
before the loop (it does not depend on h), only the rows still running are carried from step to
step (the batch is sorted by length), and the four gates come from one addition.

When nothing needs a gradient (inference, or training with a frozen ELMo) the loop also
* adds the state bias once per sequence and computes W_h h_t straight onto W_i x_t;
* with a low-rank W_i = U V (up to a rank of a few times the batch size), computes only V x_t ahead
  and multiplies [h_t, V x_t] (or [V_h h_t, V x_t]) by [W_h, U] (or [U_h, U]) in one product per step;
* applies the gate nonlinearities in place;
* on CPU, multiplies by the per-step weights reordered once per sequence into oneDNN's blocked layout
  (`_linear_pointwise`, about 1.5x faster than `addmm` with 32 rows; the weights themselves are
  untouched and nothing is cached between calls); a bf16 W_h and state projection (`core.precision`)
  the same way, their products cast back to fp32. Other layers, int8 ones included (FBGEMM packs their
  weights once), are called as modules: W_i on the whole sequence, W_h once per step. Gates, cell state
  and clipping stay fp32.

`use_fast_lstm_cells` switches an ELMo's cells (and char CNN, see `FastElmoCharacterEncoder`) to these
forwards in place (a subclass swap: same module objects, same state dict, so weight loading,
compression and archives are unaffected).
"""
from typing import Callable, Dict, List, Optional, Tuple

import torch
from allennlp.modules.elmo import _ElmoCharacterEncoder
from allennlp.modules.lstm_cell_with_projection import LstmCellWithProjection
from allennlp.nn.util import add_sentence_boundary_token_ids
from torch import nn

from allennlp_lstmfact.core.layers import LowRankLinear
from allennlp_lstmfact.core.methods.prune import MaskedLinear
from allennlp_lstmfact.core.precision import Bf16Linear, LowPrecisionLowRankLinear

# Multiply by oneDNN-reordered weights in the gradient-free loop (set to False to use plain matmuls).
PREPACK_WEIGHTS = True
# Reordering costs about one copy of the weight, what the faster products save in about 5 steps
# (dense 4096-cell ELMo, 32 rows): only done for sequences at least this long.
PREPACK_MIN_TIMESTEPS = 6
# Joining a low-rank W_i's U to the per-step product reads U at every step but spares writing and re-reading
# W_i x_t for the whole sequence: faster up to about this rank per batch row (batch 32: r=100 1.26x faster
# joined, r=400 1.11x slower).
CONCATENATE_MAX_RANK_PER_ROW = 6.0


def _prepack(weight: torch.Tensor, batch_size: int) -> Optional[torch.Tensor]:
    """`weight` (out × in, fp32 or bf16) in oneDNN's blocked layout for `_linear_pointwise`; None where unavailable."""
    if not (PREPACK_WEIGHTS and weight.device.type == "cpu" and weight.dtype in (torch.float32, torch.bfloat16)
            and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")):
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), batch_size)
    except RuntimeError:
        return None


def _bf16_product(layer: nn.Module, batch_size: int) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """
    x ↦ `layer`(x) without its bias, in fp32, for a bf16 layer (dense or low rank) with its weights
    reordered for oneDNN (`Bf16Linear` alone reorders them at every call); None for other layers.
    """
    if type(layer) is LowPrecisionLowRankLinear:
        factors = [_bf16_product(factor, batch_size) for factor in (layer.factor_v, layer.factor_u)]
        return None if None in factors else lambda inputs: factors[1](factors[0](inputs))
    packed = _prepack(layer.weight, batch_size) if type(layer) is Bf16Linear else None
    if packed is None:
        return None
    return lambda inputs: torch.ops.mkldnn._linear_pointwise(inputs.to(torch.bfloat16), packed, None, "none", [],
                                                             "").float()


def _dense_weight(layer: nn.Module) -> Optional[torch.Tensor]:
    if type(layer) is nn.Linear:
        return layer.weight
    if type(layer) is MaskedLinear:
        return layer.reconstruct_weight()
    return None


class FastLstmCellWithProjection(LstmCellWithProjection):
    """`LstmCellWithProjection` with a faster `forward`; outputs equal the stock cell's."""

    def _step(self, projected_input: torch.Tensor, state: torch.Tensor, memory: torch.Tensor,
              dropout_mask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        gates = projected_input + self.state_linearity(state)
        cell = self.cell_size
        input_gate = torch.sigmoid(gates[:, :cell])
        forget_gate = torch.sigmoid(gates[:, cell:2 * cell])
        memory_init = torch.tanh(gates[:, 2 * cell:3 * cell])
        output_gate = torch.sigmoid(gates[:, 3 * cell:])
        memory = input_gate * memory_init + forget_gate * memory
        if self.memory_cell_clip_value:
            memory = torch.clamp(memory, -self.memory_cell_clip_value, self.memory_cell_clip_value)
        output = self.state_projection(output_gate * torch.tanh(memory))
        if self.state_projection_clip_value:
            output = torch.clamp(output, -self.state_projection_clip_value, self.state_projection_clip_value)
        if dropout_mask is not None:
            output = output * dropout_mask[: output.size(0)]
        return output, memory

    def _inference_step(self, recurrent: Callable, projection: Callable) -> Callable:
        """The step of the gradient-free loop: `_step` with in-place nonlinearities and fused products."""
        cell, memory_clip, state_clip = self.cell_size, self.memory_cell_clip_value, self.state_projection_clip_value

        def step(projected_input, state, memory, dropout_mask):
            gates = recurrent(state, projected_input)  # a new tensor: W_i x_t + b + W_h h
            gates[:, :2 * cell].sigmoid_()
            gates[:, 2 * cell:3 * cell].tanh_()
            gates[:, 3 * cell:].sigmoid_()
            input_gate, forget_gate, memory_init, output_gate = gates.split(cell, 1)
            memory = (forget_gate * memory).addcmul_(input_gate, memory_init)
            if memory_clip:
                memory.clamp_(-memory_clip, memory_clip)
            output = projection(torch.tanh(memory).mul_(output_gate))
            if state_clip:
                output.clamp_(-state_clip, state_clip)
            if dropout_mask is not None:
                output.mul_(dropout_mask[: output.size(0)])
            return output, memory

        return step

    def _inference_loop_parts(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, Callable]:
        """
        What the gradient-free loop adds to W_h h_t at each step, as a batch-major view of a time-major
        tensor (each step's rows contiguous), and the step function. With dense or low-rank W_h the
        state bias is folded in there; with a low-rank W_i = U V only V x_t is computed ahead and U joins
        W_h (or U_h) in one per-step product on [h_t (or V_h h_t), V x_t].
        """
        batch_size, total_timesteps, _ = inputs.size()
        input_layer, state_layer, projection_layer = self.input_linearity, self.state_linearity, self.state_projection
        inputs = inputs.transpose(0, 1).contiguous()
        pack = total_timesteps >= PREPACK_MIN_TIMESTEPS
        state_weight = _dense_weight(state_layer)
        state_low_rank = type(state_layer) is LowRankLinear
        bf16_product = _bf16_product(state_layer, batch_size) if pack and state_weight is None else None
        if bf16_product is not None:  # the state bias folded into W_i x_t; W_h h_t reordered for oneDNN
            projected = input_layer(inputs)
            if state_layer.bias is not None:
                projected += state_layer.bias

            def recurrent(state, projected_input):
                return bf16_product(state).add_(projected_input)
        elif state_weight is None and not state_low_rank:  # any other layer (int8, ...): as the autograd loop
            projected = input_layer(inputs)

            def recurrent(state, projected_input):
                return state_layer(state).add_(projected_input)
        else:
            state_factor = state_layer.weight_v if state_low_rank else None
            weight = state_layer.weight_u if state_low_rank else state_weight
            biases = [state_layer.bias]
            concatenate = (type(input_layer) is LowRankLinear
                           and input_layer.rank <= CONCATENATE_MAX_RANK_PER_ROW * batch_size)
            if concatenate:  # [.., V x_t] times [W_h or U_h, U]^T
                projected = torch.nn.functional.linear(inputs, input_layer.weight_v)
                weight = torch.cat([weight, input_layer.weight_u], 1)
                biases.append(input_layer.bias)
            else:
                projected = input_layer(inputs)
            packed = _prepack(weight, batch_size) if pack else None
            biases = [bias for bias in biases if bias is not None]
            bias = sum(biases[1:], biases[0]) if biases else None
            if not concatenate and bias is not None:
                projected += bias
                bias = None

            def recurrent(state, projected_input):
                if state_factor is not None:
                    state = torch.mm(state, state_factor.t())
                if concatenate:
                    state = torch.cat([state, projected_input], 1)  # contiguous
                    if packed is not None:
                        return torch.ops.mkldnn._linear_pointwise(state, packed, bias, "none", [], "")
                    return torch.nn.functional.linear(state, weight, bias)
                if packed is not None:
                    return torch.ops.mkldnn._linear_pointwise.binary(state.contiguous(), projected_input.contiguous(),
                                                                     packed, None, "add")
                return torch.addmm(projected_input, state, weight.t())
        packed_projection = None
        if type(projection_layer) is nn.Linear and projection_layer.bias is None and pack:
            packed_projection = _prepack(projection_layer.weight, batch_size)
        bf16_projection = None
        if pack and getattr(projection_layer, "bias", None) is None:
            bf16_projection = _bf16_product(projection_layer, batch_size)
        if packed_projection is not None:
            def projection(hidden):  # `hidden` is a new contiguous tensor
                return torch.ops.mkldnn._linear_pointwise(hidden, packed_projection, None, "none", [], "")
        else:
            projection = bf16_projection or projection_layer
        return projected.transpose(0, 1), self._inference_step(recurrent, projection)

    def forward(self, inputs: torch.FloatTensor, batch_lengths: List[int],
                initial_state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None):
        batch_size, total_timesteps, _ = inputs.size()
        if initial_state is None:
            initial_memory = inputs.new_zeros(batch_size, self.cell_size)
            initial_hidden = inputs.new_zeros(batch_size, self.hidden_size)
        else:
            initial_hidden, initial_memory = initial_state[0].squeeze(0), initial_state[1].squeeze(0)
        dropout_mask = None
        if self.recurrent_dropout_probability > 0.0 and self.training:
            keep = 1.0 - self.recurrent_dropout_probability
            dropout_mask = torch.bernoulli(initial_hidden.new_full(initial_hidden.shape, keep)) / keep

        needs_grad = torch.is_grad_enabled() and (
            any(tensor.requires_grad for tensor in (inputs, initial_hidden, initial_memory))
            or any(parameter.requires_grad for parameter in self.parameters()))
        if needs_grad:
            projected_inputs, step = self.input_linearity(inputs), self._step  # W_i x_t for every t at once
        else:
            projected_inputs, step = self._inference_loop_parts(inputs)
        outputs = inputs.new_zeros(batch_size, total_timesteps, self.hidden_size)
        lengths = torch.as_tensor(batch_lengths).tolist()
        if self.go_forward:
            # rows stop one after the other (longest first): keep the finished rows' final state
            state, memory = initial_hidden, initial_memory
            finished: List[Tuple[torch.Tensor, torch.Tensor]] = []
            active = batch_size
            for index in range(total_timesteps):
                still_running = sum(1 for length in lengths[:active] if length > index)
                if still_running < active:
                    finished.append((state[still_running:active], memory[still_running:active]))
                    state, memory, active = state[:still_running], memory[:still_running], still_running
                state, memory = step(projected_inputs[:active, index], state, memory, dropout_mask)
                outputs[:active, index] = state
            finished.append((state, memory))
            final_state = torch.cat([s for s, _ in reversed(finished)], 0)
            final_memory = torch.cat([m for _, m in reversed(finished)], 0)
        else:
            # rows start one after the other (shortest last) from their initial state
            state, memory = initial_hidden[:0], initial_memory[:0]
            for index in reversed(range(total_timesteps)):
                running = sum(1 for length in lengths if length > index)
                if running > state.size(0):
                    state = torch.cat([state, initial_hidden[state.size(0):running]], 0)
                    memory = torch.cat([memory, initial_memory[memory.size(0):running]], 0)
                state, memory = step(projected_inputs[:running, index], state, memory, dropout_mask)
                outputs[:running, index] = state
            final_state = torch.cat([state, initial_hidden[state.size(0):]], 0)
            final_memory = torch.cat([memory, initial_memory[memory.size(0):]], 0)
        return outputs, (final_state.unsqueeze(0), final_memory.unsqueeze(0))


class FastElmoCharacterEncoder(_ElmoCharacterEncoder):
    """
    `_ElmoCharacterEncoder` with a faster char CNN; outputs equal the stock encoder's.

    Past the batch's longest word every character id repeats its word's last id (padding), so the
    convolution windows lying wholly there all give one value per word: the CNN keeps the first
    `longest + widest filter` characters, which still hold one such window for every width. Each
    width is then one matmul over the unfolded windows instead of a `Conv1d` (faster for 16 channels),
    and the CNN, highways and projection run once per distinct word of the batch. Together about
    1.8x faster than stock (2 threads, 32 x 20 random words of up to 18 characters).
    """

    def forward(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        convolutions = [getattr(self, f"char_conv_{i}") for i in range(len(self._convolutions))]
        activation = {"tanh": torch.tanh, "relu": torch.relu}.get(self._options["char_cnn"]["activation"])
        if activation is None or not all(
                type(conv) is nn.Conv1d and conv.stride == (1,) and conv.padding == (0,) and conv.dilation == (1,)
                and conv.groups == 1 and conv.bias is not None for conv in convolutions):
            return super().forward(inputs)  # as configured there (or its error)
        mask = (inputs > 0).sum(dim=-1) > 0
        character_ids, mask_with_bos_eos = add_sentence_boundary_token_ids(
            inputs, mask, self._beginning_of_sentence_characters, self._end_of_sentence_characters)
        batch_size, sequence_length, max_characters = character_ids.size()
        character_ids = character_ids.view(-1, max_characters)
        varying = (character_ids != character_ids[:, -1:]).any(0).nonzero()
        longest = int(varying[-1]) + 1 if len(varying) else 0
        kept = min(max_characters, longest + max(conv.kernel_size[0] for conv in convolutions))
        # the embedding is context-free: compute it once per distinct word of the batch (<S>, </S>, padding, ...)
        words, occurrences = torch.unique(character_ids[:, :kept], dim=0, return_inverse=True)
        # (words, characters, embedding dim)
        embedded = torch.nn.functional.embedding(words, self._char_embedding_weights)
        convolved = []
        for conv in convolutions:
            width = conv.kernel_size[0]
            # (words, positions, width * embedding dim) against (filters, width * embedding dim)
            windows = embedded.unfold(1, width, 1).transpose(2, 3).flatten(2)
            weight = conv.weight.transpose(1, 2).flatten(1)
            convolved.append(activation(torch.matmul(windows, weight.t()).amax(1) + conv.bias))
        token_embedding = self._projection(self._highways(torch.cat(convolved, -1)))[occurrences]
        return {"mask": mask_with_bos_eos, "token_embedding": token_embedding.view(batch_size, sequence_length, -1)}


def use_fast_lstm_cells(module: nn.Module, char_cnn: bool = True) -> int:
    """
    Switch every `LstmCellWithProjection` inside `module` to the fast forward, and (with `char_cnn`)
    every ELMo `_ElmoCharacterEncoder` to `FastElmoCharacterEncoder`; returns how many cells.
    """
    cells = [m for m in module.modules() if type(m) is LstmCellWithProjection]
    for cell in cells:
        cell.__class__ = FastLstmCellWithProjection
    if char_cnn:
        for encoder in module.modules():
            if type(encoder) is _ElmoCharacterEncoder:
                encoder.__class__ = FastElmoCharacterEncoder
    return len(cells)
