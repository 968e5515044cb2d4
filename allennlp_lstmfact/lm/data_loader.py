"""
Contiguous truncated-BPTT batches over a corpus read as one long stream of tokens.
"""
import math
from typing import Iterator, Optional

import numpy
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm
from allennlp.data import DataLoader, DatasetReader, Instance, TensorDict, Vocabulary
from allennlp.data.dataset_readers.dataset_reader import DatasetReaderInput
from allennlp.nn.util import move_to_device


@DataLoader.register("bptt_stream")
class BpttStreamDataLoader(DataLoader):
    """
    Concatenates the token ids of all instances into one stream, cuts it into `batch_size`
    contiguous rows (row k holds tokens [k·T, (k+1)·T)), and walks the rows left to right in
    windows of `sequence_length` steps. Consecutive batches continue each other row by row, so a
    model may carry its hidden state from one batch to the next.

    Unlike awd-lstm-lm's `batchify`, the tail of the stream that does not fill a whole column is
    not dropped: the last row is padded and `mask` excludes the padded targets. Every token of
    the stream except the first of each row is a target exactly once.

    A batch is `{"tokens": (batch, L) ids, "targets": (batch, L) ids (the next tokens), "mask":
    (batch, L) bool, "reset_state": bool}`; `reset_state` is `True` on the first batch of each pass.

    Registered as a `DataLoader` with name "bptt_stream".

    # Parameters

    reader : `DatasetReader`
        Its instances must have one `TextField` (`field_name`) with one single-id token indexer.
    data_path : `DatasetReaderInput`
    batch_size : `int`
        Number of rows (awd-lstm-lm: 80 for training, 10 for validation, 1 for test).
    sequence_length : `int`, optional (default = `70`)
        BPTT length (awd-lstm-lm's `bptt`).
    variable_length : `bool`, optional (default = `False`)
        awd-lstm-lm's training rule: each batch's length is max(5, ⌊N(μ, 5)⌋) with μ =
        `sequence_length` with probability 0.95 and `sequence_length`/2 otherwise (numpy's global
        generator, seeded by the config's `numpy_seed`). Pair it with the `bptt_lr_scaling`
        callback, which scales the learning rate by L/`sequence_length` as awd-lstm-lm does.
    batches_per_epoch : `int`, optional (default = `None`)
        If given, an epoch is this many batches and the next epoch continues the stream where
        the last one stopped (restarting it, state reset, when it runs out).
    field_name : `str`, optional (default = `"tokens"`)
    quiet : `bool`, optional (default = `False`)
        No progress bar while the stream is indexed.
    """

    def __init__(self, reader: DatasetReader, data_path: DatasetReaderInput, batch_size: int,
                 sequence_length: int = 70, variable_length: bool = False, batches_per_epoch: Optional[int] = None,
                 field_name: str = "tokens", quiet: bool = False) -> None:
        for name, value in (("batch_size", batch_size), ("sequence_length", sequence_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"bptt_stream: {name} must be a positive integer, got {value!r}")
        if batches_per_epoch is not None and batches_per_epoch < 1:
            raise ConfigurationError(f"bptt_stream: batches_per_epoch must be positive, got {batches_per_epoch}")
        self.reader, self.data_path = reader, data_path
        self.batch_size, self.sequence_length = batch_size, sequence_length
        self.variable_length, self.batches_per_epoch = variable_length, batches_per_epoch
        self.field_name, self.quiet = field_name, quiet
        self._vocab: Optional[Vocabulary] = None
        self._rows: Optional[torch.Tensor] = None
        self._targets_mask: Optional[torch.Tensor] = None
        self._stream_length = 0
        self._device: Optional[torch.device] = None
        self._ongoing: Optional[Iterator[TensorDict]] = None

    # DataLoader API ---------------------------------------------------------------------------

    def iter_instances(self) -> Iterator[Instance]:
        yield from self.reader.read(self.data_path)

    def index_with(self, vocab: Vocabulary) -> None:
        self._vocab = vocab
        self._rows = self._targets_mask = None
        self._ongoing = None

    def set_target_device(self, device: torch.device) -> None:
        self._device = device

    def __len__(self) -> int:
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        if self.variable_length:
            raise TypeError("the number of variable-length BPTT batches is random")
        return math.ceil((self.row_length - 1) / self.sequence_length)

    def __iter__(self) -> Iterator[TensorDict]:
        if self.batches_per_epoch is None:
            yield from self._one_pass()
            return
        for _ in range(self.batches_per_epoch):
            batch = next(self._ongoing, None) if self._ongoing is not None else None
            if batch is None:
                self._ongoing = self._one_pass()
                batch = next(self._ongoing)
            yield batch

    # The stream -------------------------------------------------------------------------------

    @property
    def row_length(self) -> int:
        """T, the number of steps of each row (the stream padded to a multiple of `batch_size`)."""
        return self._stream_rows()[0].shape[1]

    def token_ids(self) -> torch.Tensor:
        """The whole stream of token ids, in corpus order (1-D, no padding)."""
        rows, _ = self._stream_rows()
        return rows.flatten()[:self._stream_length]

    def _stream_rows(self):
        if self._rows is None:
            stream = self._index_stream()
            row_length = math.ceil(len(stream) / self.batch_size)
            if row_length < 2:
                raise ConfigurationError(f"{self.data_path}: {len(stream)} tokens cannot fill {self.batch_size} "
                                         "rows of at least 2 tokens")
            padded = torch.zeros(self.batch_size * row_length, dtype=torch.long)
            padded[:len(stream)] = stream
            self._stream_length = len(stream)
            present = torch.zeros_like(padded, dtype=torch.bool)
            present[:len(stream)] = True
            self._rows = padded.view(self.batch_size, row_length)
            self._targets_mask = present.view(self.batch_size, row_length)
            self._targets_mask[:, 0] = False  # a row's first token is never predicted
        return self._rows, self._targets_mask

    def _index_stream(self) -> torch.Tensor:
        if self._vocab is None:
            raise ValueError("bptt_stream: call index_with(vocab) before iterating")
        instances = self.iter_instances()
        if not self.quiet:
            instances = Tqdm.tqdm(instances, desc=f"indexing {self.data_path}")
        ids = []
        for instance in instances:
            field = instance[self.field_name]
            (indexer,) = field.token_indexers.values()
            (token_ids,) = indexer.tokens_to_indices(field.tokens, self._vocab).values()
            ids.extend(token_ids)
        return torch.tensor(ids, dtype=torch.long)

    def _sample_length(self) -> int:
        if not self.variable_length:
            return self.sequence_length
        mean = self.sequence_length if numpy.random.random() < 0.95 else self.sequence_length / 2
        return max(5, int(numpy.random.normal(mean, 5)))

    def _one_pass(self) -> Iterator[TensorDict]:
        rows, targets_mask = self._stream_rows()
        last_input = rows.shape[1] - 1
        start = 0
        while start < last_input:
            stop = min(start + self._sample_length(), last_input)
            batch = {
                "tokens": rows[:, start:stop].contiguous(),
                "targets": rows[:, start + 1:stop + 1].contiguous(),
                "mask": targets_mask[:, start + 1:stop + 1].contiguous(),
                "reset_state": start == 0,
            }
            yield batch if self._device is None else move_to_device(batch, self._device)
            start = stop
