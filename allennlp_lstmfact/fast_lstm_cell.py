"""
A faster forward pass for ELMo's `LstmCellWithProjection`, with the same parameters and results.

The stock cell applies W_i to one timestep at a time inside its Python loop and clones the whole
batch's state twice per step. Here W_i x_t is computed for the whole sequence in one matmul
before the loop (it does not depend on h), only the rows still running are carried from step to
step (the batch is sorted by length), and the four gates come from one addition.
`use_fast_lstm_cells` switches an ELMo's cells to this forward in place (a subclass swap: same
module objects, same state dict, so weight loading, compression and archives are unaffected).
"""
from typing import List, Optional, Tuple

import torch
from allennlp.modules.lstm_cell_with_projection import LstmCellWithProjection
from torch import nn


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

        projected_inputs = self.input_linearity(inputs)  # W_i x_t for every t at once
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
                state, memory = self._step(projected_inputs[:active, index], state, memory, dropout_mask)
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
                state, memory = self._step(projected_inputs[:running, index], state, memory, dropout_mask)
                outputs[:running, index] = state
            final_state = torch.cat([state, initial_hidden[state.size(0):]], 0)
            final_memory = torch.cat([memory, initial_memory[memory.size(0):]], 0)
        return outputs, (final_state.unsqueeze(0), final_memory.unsqueeze(0))


def use_fast_lstm_cells(module: nn.Module) -> int:
    """Switch every `LstmCellWithProjection` inside `module` to the fast forward; returns how many."""
    cells = [m for m in module.modules() if type(m) is LstmCellWithProjection]
    for cell in cells:
        cell.__class__ = FastLstmCellWithProjection
    return len(cells)
