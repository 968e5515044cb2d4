"""
Task-agnostic repair of a compressed ELMo by distillation: its factors are trained on raw text so
that its layer outputs match the dense biLM's (the teacher, frozen), with no labels and no task model.
"""
import os
from typing import Dict, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models import Model
from allennlp.modules.elmo import Elmo, _ElmoBiLm

from allennlp_lstmfact.archive_loading import state_dict_follows
from allennlp_lstmfact.bilm.dataset_reader import CHARACTERS
from allennlp_lstmfact.bilm.weights import compression_entry, export_compressed_elmo
from allennlp_lstmfact.bilm_files import check_elmo_files
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells

TRAINED = ("compressed", "lstm")


@Model.register("elmo_distillation")
class ElmoDistillation(Model):
    """
    Distils a dense ELMo biLM (the teacher, frozen) into a compressed one (the student) on raw text:
    the loss is the mean over the LSTM layers k of ‖h_k^student − h_k^teacher‖² / ‖h_k^teacher‖²
    summed over the batch's positions (boundary tokens included, both directions), the layer outputs
    downstream models mix. Both biLMs start every batch from zero LSTM states (sentence level, as
    `elmo_bilm` trains). The char CNN is shared knowledge and stays frozen. No LM loss: ELMo files
    hold no softmax. `write_student` (the `export_compressed_elmo` callback) writes the student as a
    compressed ELMo (`bilm_files`, format 1) that any config can name.

    Metrics: `relative_error_layer_{k}` = sqrt(Σ‖h_s − h_t‖² / Σ‖h_t‖²) over the epoch's positions,
    and `relative_error` over all layers.

    Registered as a `Model` with name "elmo_distillation".

    # Parameters

    vocab : `Vocabulary`
    options_file, weight_file : `str`
        The dense ELMo (teacher).
    compression : `ElmoCompression`, optional (default = `None`)
        The student is the teacher compressed by this block (post-hoc; in `Model.load` its shapes only) ...
    student_options_file, student_weight_file : `str`, optional (default = `None`)
        ... or a compressed ELMo of the same architecture (`allennlp compress-elmo`). Exactly one of the two.
    trained : `str`, optional (default = `"compressed"`)
        Which of the student's parameters train: `"compressed"` (the compressed matrices' layers: factors,
        masked weights, and the bias of a compressed W_h) or `"lstm"` (every LSTM parameter).
    """

    def __init__(self, vocab: Vocabulary, options_file: str, weight_file: str,
                 compression: Optional[ElmoCompression] = None, student_options_file: Optional[str] = None,
                 student_weight_file: Optional[str] = None, trained: str = "compressed", **kwargs) -> None:
        super().__init__(vocab, **kwargs)
        if (compression is None) == (student_options_file is None) or \
                (student_options_file is None) != (student_weight_file is None):
            raise ConfigurationError("elmo_distillation needs exactly one student: a compression block, or "
                                     "student_options_file and student_weight_file (a compressed ELMo)")
        if trained not in TRAINED:
            raise ConfigurationError(f"trained {trained!r} is unknown; allowed: {', '.join(TRAINED)}")
        teacher_options = check_elmo_files(options_file, weight_file)
        if "compression" in teacher_options:
            raise ConfigurationError(f"the teacher {options_file!r} is a compressed ELMo; give the dense one")
        self.teacher = _ElmoBiLm(options_file, weight_file, requires_grad=False)
        if compression is not None:
            if compression.staged:
                raise ConfigurationError("compression.staged is not for distillation: the student is compressed at once")
            elmo = Elmo(options_file, weight_file, num_output_representations=1, requires_grad=True)
            self.compression_report = report = compression.apply(elmo, structure_only=state_dict_follows())
            self.student = elmo._elmo_lstm
            block = {key: value for key, value in vars(compression).items() if value is not None and key != "calibrated"}
            self.compression_entry = compression_entry(report, block)
        else:
            student_options = check_elmo_files(student_options_file, student_weight_file)
            if "compression" not in student_options:
                raise ConfigurationError(f"the student {student_options_file!r} is a dense ELMo; compress it with "
                                         "`allennlp compress-elmo` first")
            dense = {key: value for key, value in student_options.items() if key != "compression"}
            if dense != teacher_options:
                raise ConfigurationError(f"the student {student_options_file!r} and the teacher {options_file!r} "
                                         "have different architectures (options)")
            self.student = _ElmoBiLm(student_options_file, student_weight_file, requires_grad=True)
            self.compression_entry = student_options["compression"]
        compressed = set(self.compression_entry["ranks"])
        for name, parameter in self.student.named_parameters():
            module = name[len("_elmo_lstm."):].rpartition(".")[0] if name.startswith("_elmo_lstm.") else None
            parameter.requires_grad_(module is not None and (trained == "lstm" or module in compressed))
        for bilm in (self.teacher, self.student):
            use_fast_lstm_cells(bilm)
        self.teacher.eval()
        self._sums: Dict[str, List[float]] = {}

    def train(self, mode: bool = True) -> "ElmoDistillation":
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, characters: TextFieldTensors, words: Optional[TextFieldTensors] = None  # type: ignore
                ) -> Dict[str, torch.Tensor]:
        """
        # Parameters

        characters : `TextFieldTensors`
            Sentences as ELMo character ids (`bilm_sentences` / `bilm_corpora`); `words` is not read.

        # Returns

        `loss` and `relative_errors` (per LSTM layer, this batch).
        """
        ids = characters[CHARACTERS]["elmo_tokens"]
        for bilm in (self.teacher, self.student):
            bilm._elmo_lstm.reset_states()
        with torch.no_grad():
            teacher = self.teacher(ids)
        student = self.student(ids)
        mask = teacher["mask"]
        losses, errors = [], []
        for k, (mine, target) in enumerate(zip(student["activations"][1:], teacher["activations"][1:]), start=1):
            squared_error = (mine - target)[mask].pow(2).sum()
            squared_norm = target[mask].pow(2).sum()
            losses.append(squared_error / squared_norm)
            sums = self._sums.setdefault(f"relative_error_layer_{k}", [0.0, 0.0])
            sums[0] += float(squared_error.detach())
            sums[1] += float(squared_norm)
            errors.append(losses[-1].detach().sqrt())
        return {"loss": torch.stack(losses).mean(), "relative_errors": torch.stack(errors)}

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        metrics = {name: (error / norm) ** 0.5 if norm else 0.0 for name, (error, norm) in self._sums.items()}
        if self._sums:
            error, norm = (sum(values) for values in zip(*self._sums.values()))
            metrics["relative_error"] = (error / norm) ** 0.5 if norm else 0.0
        if reset:
            self._sums = {}
        return metrics

    def write_student(self, folder: str) -> None:
        """Write the student as a compressed ELMo: `folder/options.json` and `folder/weights.hdf5` (atomically)."""
        os.makedirs(folder, exist_ok=True)
        export_compressed_elmo(self.student, os.path.join(folder, "options.json"),
                               os.path.join(folder, "weights.hdf5"), self.compression_entry)

