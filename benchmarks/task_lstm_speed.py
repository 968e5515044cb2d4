"""
CPU speed of compressing every LSTM of a model, against what a user would otherwise run.

(a) One LSTM: `torch.nn.LSTM` (the reference: its fused oneDNN kernel) vs its conversion
`CompressibleLstm` left dense and with W_h, W_i or both SVD-factorized, inference (no grad) and
training (forward + backward), at the AWD-LSTM's, the CPU preset's and the task models' shapes;
for a unidirectional layer also AWD-LSTM's DropConnect (weight drop 0.5) in training, ours vs
awd-lstm-lm's (`F.dropout` on nn.LSTM's W_h). FLOP bound: the multiply-adds per token of the dense
matrices over those of the compressed ones; fraction: the speed-up over nn.LSTM over that bound.
(b) A low-rank W_h in inference: the time loop vs the fused kernel (U V multiplied out) per shape, on
one thread and on `--threads`, beside the path `FACTORED_LOOP_MIN_HIDDEN` picks.
(c) Whole models: BiDAF, ESIM and BCN at their published shapes (`training_configs/`, the official
2x4096_512 ELMo shapes from LSTMFACT_DATA/elmo/official_options, random weights, no GloVe), inference
on a few real instances (SQuAD dev, SNLI test, SST dev): stock AllenNLP vs ours (fast ELMo, converted
LSTMs) dense, ELMo only compressed and every LSTM compressed (W_i and W_h, SVD) at r = 10 and 100.
FLOP bound: the matmul FLOPs of stock over those of the configuration, both counted with
`torch.utils.flop_counter` on the batch (every product made visible: fused kernels and weight
prepacking off while counting).

Times are medians of interleaved rounds after a warm-up, wall clock, at a fixed thread count.
Usage: LSTMFACT_DATA=../shared/data python benchmarks/task_lstm_speed.py [--threads 2 --repeats 3
--out docs/performance_task_lstms.md --parts lstm paths models]
"""
import argparse
import copy
import json
import os
import re
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from allennlp.common import Params
from allennlp.data import Batch, Vocabulary
from allennlp.data.dataset_readers import DatasetReader
from allennlp.models import Model
from allennlp.nn import util as nn_util
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

import allennlp_lstmfact.plugin  # noqa: F401  (registrations)
import allennlp_models.classification  # noqa: F401
import allennlp_models.pair_classification  # noqa: F401
import allennlp_models.rc  # noqa: F401
from allennlp_lstmfact import fast_lstm_cell
from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files
from allennlp_lstmfact.core import CompressionSpec, break_even_rank, compress_modules
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells
from allennlp_lstmfact.lm import lstm as lstm_module
from allennlp_lstmfact.lm.lstm import CompressibleLstm, LstmLayer
from allennlp_lstmfact.task_lstms import ModelLstmCompression, convert_lstms

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name: (input size, hidden size, bidirectional, batch, steps)
LSTM_SHAPES = {
    "AWD-LSTM layer 2 (1150→1150)": (1150, 1150, False, 20, 70),
    "LM CPU preset layer 1 (200→400)": (200, 400, False, 20, 35),
    "BiDAF phrase layer (1224→100, bi)": (1224, 100, True, 40, 120),
    "ESIM encoder (1024→300, bi)": (1024, 300, True, 32, 20),
}
# name: (rank of W_i, rank of W_h); None = dense
LSTM_VARIANTS = {"converted, dense": (None, None), "W_h r=10": (None, 10), "W_h r=100": (None, 100),
                 "W_i r=10": (10, None), "both r=10": (10, 10)}
# task: (config, reader's data file under LSTMFACT_DATA, instances per batch)
TASKS = {
    "BiDAF (SQuAD)": ("rc/bidaf_elmo.jsonnet", "squad/dev-v1.1.json", 4),
    "ESIM (SNLI)": ("pair_classification/esim_elmo.jsonnet", "snli/snli_1.0_test.labeled_pairs.jsonl", 16),
    "BCN (SST-5)": ("classification/bcn_elmo.jsonnet", "sst/dev.txt", 16),
}
RANKS = (10, 100)


def interleaved_medians(runs: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Median seconds of each run, timed in turn within each round (the first round is a warm-up)."""
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for attempt in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if attempt:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def lstm_macs(input_size: int, hidden_size: int, ranks: Tuple[Optional[int], Optional[int]]) -> int:
    """Multiply-adds per token and direction of W_i and W_h (4·hidden rows each), dense or of rank r."""
    input_rank, state_rank = ranks
    gates = 4 * hidden_size
    input_macs = gates * input_size if input_rank is None else input_rank * (gates + input_size)
    state_macs = gates * hidden_size if state_rank is None else state_rank * (gates + hidden_size)
    return input_macs + state_macs


def saves_parameters(input_size: int, hidden_size: int, ranks: Tuple[Optional[int], Optional[int]]) -> bool:
    """Whether every rank r stores fewer numbers than its dense matrix: r(m + n) < mn."""
    return all(rank is None or rank * (4 * hidden_size + columns) < 4 * hidden_size * columns
               for rank, columns in zip(ranks, (input_size, hidden_size)))


def lstm_variant(reference: torch.nn.LSTM, ranks: Tuple[Optional[int], Optional[int]]) -> CompressibleLstm:
    converted = CompressibleLstm.from_torch_lstm(reference)
    for attribute, rank in zip(("input_linearity", "state_linearity"), ranks):
        if rank is not None:
            compress_modules(converted, CompressionSpec(method="svd", rank=rank, target_regex=fr".*\.{attribute}"))
    return converted


def drop_connect_reference(reference: torch.nn.LSTM, inputs: torch.Tensor) -> torch.Tensor:
    """awd-lstm-lm's weight drop: `F.dropout` on nn.LSTM's W_h, then the fused kernel."""
    weights = list(reference._flat_weights)
    weights[1] = F.dropout(weights[1], 0.5, training=True)
    return torch._VF.lstm(inputs, (inputs.new_zeros(1, inputs.shape[0], reference.hidden_size),) * 2, weights, True,
                          1, 0.0, True, False, True)[0]


def lstm_table(repeats: int) -> List[str]:
    lines = ["| shape (batch × steps) | layer | inference ms | × nn.LSTM | training ms | × nn.LSTM | FLOP bound | "
             "inference / bound | training / bound |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for shape_name, (input_size, hidden_size, bidirectional, batch, steps) in LSTM_SHAPES.items():
        torch.manual_seed(0)
        reference = torch.nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        inputs = torch.randn(batch, steps, input_size)
        dense_macs = lstm_macs(input_size, hidden_size, (None, None))
        modules = {"nn.LSTM": reference, **{name: lstm_variant(reference, ranks) for name, ranks in LSTM_VARIANTS.items()
                                            if saves_parameters(input_size, hidden_size, ranks)}}
        inference = {name: _inference(module, inputs) for name, module in modules.items()}
        training = {name: _training(module, inputs) for name, module in modules.items()}
        if not bidirectional:
            dropping = LstmLayer.from_torch_lstm(reference, weight_dropout=0.5)
            training["nn.LSTM + weight drop (awd-lstm-lm)"] = lambda: drop_connect_reference(reference, inputs).sum().backward()
            training["LstmLayer dense + weight drop"] = _training(dropping, inputs)
        seconds = interleaved_medians({**{("inference", k): v for k, v in inference.items()},
                                       **{("training", k): v for k, v in training.items()}}, repeats)
        base_inference, base_training = seconds[("inference", "nn.LSTM")], seconds[("training", "nn.LSTM")]
        for name in training:
            ranks = LSTM_VARIANTS.get(name, (None, None))
            bound = dense_macs / lstm_macs(input_size, hidden_size, ranks)
            row_inference = seconds.get(("inference", name))
            speedups = [base_inference / row_inference if row_inference else None,
                        base_training / seconds[("training", name)]]
            cells = [f"{1000 * row_inference:.1f}" if row_inference else "", _ratio(speedups[0]),
                     f"{1000 * seconds[('training', name)]:.1f}", _ratio(speedups[1]), f"{bound:.2f}",
                     *(f"{s / bound:.0%}" if s and name != "nn.LSTM" else "" for s in speedups)]
            lines.append(f"| {shape_name} ({batch} × {steps}) | {name} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def forced_path(module: torch.nn.Module, loop: bool) -> Callable[[torch.Tensor], object]:
    """`module`'s inference with a low-rank W_h forced into the time loop or (multiplied out) the fused kernel."""
    def run(inputs: torch.Tensor):
        rule = lstm_module.FACTORED_LOOP_MIN_HIDDEN
        lstm_module.FACTORED_LOOP_MIN_HIDDEN = (0, 0) if loop else (10 ** 9, 10 ** 9)
        try:
            return _inference(module, inputs)()
        finally:
            lstm_module.FACTORED_LOOP_MIN_HIDDEN = rule
    return run


def path_table(repeats: int, thread_counts: List[int]) -> List[str]:
    """Inference of a low-rank W_h (r = 10) in the time loop vs the fused kernel, per shape and thread count."""
    lines = ["| shape (batch × steps) | threads | W_i | loop × nn.LSTM | kernel × nn.LSTM | the rule picks | "
             "faster path |", "|---|---:|---|---:|---:|---|---|"]
    default_threads = torch.get_num_threads()
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for shape_name, (input_size, hidden_size, bidirectional, batch, steps) in LSTM_SHAPES.items():
            torch.manual_seed(0)
            reference = torch.nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
            inputs = torch.randn(batch, steps, input_size)
            for input_rank in (None, 10):
                module = lstm_variant(reference, (input_rank, 10))
                runs = {"nn.LSTM": _inference(reference, inputs), "loop": lambda m=module: forced_path(m, True)(inputs),
                        "kernel": lambda m=module: forced_path(m, False)(inputs)}
                seconds = interleaved_medians(runs, repeats)
                picked = "loop" if lstm_module.low_rank_state_runs_loop(hidden_size, needs_grad=False) else "kernel"
                faster = min(("loop", "kernel"), key=seconds.get)
                lines.append(f"| {shape_name} ({batch} × {steps}) | {threads} | {'r=10' if input_rank else 'dense'} | "
                             f"{seconds['nn.LSTM'] / seconds['loop']:.2f} | {seconds['nn.LSTM'] / seconds['kernel']:.2f} | "
                             f"{picked} | {faster} |")
                print(lines[-1], flush=True)
    torch.set_num_threads(default_threads)
    return lines


def _ratio(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.2f}"


def _inference(module: torch.nn.Module, inputs: torch.Tensor) -> Callable[[], object]:
    def run():
        module.eval()
        with torch.no_grad():
            return module(inputs)
    return run


def _training(module: torch.nn.Module, inputs: torch.Tensor) -> Callable[[], object]:
    def run():
        module.train()
        module.zero_grad()
        module(inputs)[0].sum().backward()
    return run


def task_models(config: str, elmo_files: Tuple[str, str], data_path: str, batch_size: int):
    """The stock model of `config` (published shapes, random weights, no GloVe) and a batch of real instances."""
    os.environ.update({"ELMO_OPTIONS": elmo_files[0], "ELMO_WEIGHTS": elmo_files[1], "ELMO_DIM": "1024",
                       "METHOD": "none"})
    params = Params.from_file(os.path.join(REPO, "training_configs", config)).as_dict(quiet=True)
    reader = DatasetReader.from_params(Params(params["dataset_reader"]))
    instances = []
    for instance in reader.read(data_path):  # the vocabulary of 200 instances holds every label
        instances.append(instance)
        if len(instances) == 200:
            break
    vocab = Vocabulary.from_instances(instances)
    instances = instances[:batch_size]
    model_params = params["model"]
    for embedder in model_params["text_field_embedder"]["token_embedders"].values():
        embedder.pop("pretrained_file", None)
        embedder.pop("trainable", None)
        if embedder.get("type") == "factorized_elmo_token_embedder":  # stock AllenNLP's embedder
            embedder["type"] = "elmo_token_embedder"
    batch = Batch(instances)
    batch.index_instances(vocab)
    tensors = batch.as_tensor_dict()

    def build() -> Model:
        torch.manual_seed(0)
        return Model.from_params(vocab=vocab, params=Params(copy.deepcopy(model_params))).eval()

    return build, tensors


def configurations(build: Callable[[], Model]) -> Dict[str, Model]:
    models = {"stock": build()}
    dense = build()
    convert_lstms(dense, "all")
    models["ours, dense"] = dense
    for modules, label in (("elmo", "ELMo only"), ("all", "every LSTM")):
        for rank in RANKS:
            model = build()
            ModelLstmCompression(method="svd", rank=rank, target="both", modules=modules,
                                 rank_pattern=capped_ranks(model, modules, rank)).apply(model)
            use_fast_lstm_cells(model)
            models[f"{label} r={rank}"] = model
    use_fast_lstm_cells(dense)
    return models


def capped_ranks(model: Model, modules: str, rank: int) -> Dict[str, int]:
    """A rank pattern giving the matrices where `rank` would not save parameters their break-even rank."""
    block = ModelLstmCompression(method="svd", rank=rank, modules=modules, target="both")
    block.convert(model)
    shapes = {name: tuple(model.get_submodule(name).weight.shape) for name in block.target_names(model)}
    return {re.escape(name) + "$": break_even_rank(shape) for name, shape in shapes.items()
            if break_even_rank(shape) < rank}


def matmul_flops(model: Model, tensors: Dict) -> int:
    """The matmul FLOPs of one forward pass with every product visible to the counter."""
    counted = model
    if any(isinstance(m, torch.nn.LSTM) for m in model.modules()):  # stock: count its nn.LSTMs' math
        counted = copy.deepcopy(model)
        convert_lstms(counted, [name for name, m in counted.named_modules() if isinstance(m, torch.nn.LSTM)],
                      fast_elmo=False)
    fused, prepack = lstm_module.FUSED_KERNEL, fast_lstm_cell.PREPACK_WEIGHTS
    lstm_module.FUSED_KERNEL = fast_lstm_cell.PREPACK_WEIGHTS = False
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            _reset(counted)
            counted(**tensors)
    finally:
        lstm_module.FUSED_KERNEL, fast_lstm_cell.PREPACK_WEIGHTS = fused, prepack
    return counter.get_total_flops()


def _reset(model: Model) -> None:
    for module in model.modules():
        if hasattr(module, "reset_states"):
            module.reset_states()


def _first_output(model: Model, tensors: Dict) -> torch.Tensor:
    _reset(model)
    output = model(**tensors)
    key = next(k for k in ("span_start_logits", "label_logits", "logits") if k in output)
    return output[key]


def model_table(repeats: int, data_root: str) -> List[str]:
    options_file = os.path.join(data_root, "elmo", "official_options", "elmo_2x4096_512_2048cnn_2xhighway_options.json")
    with open(options_file) as handle:
        options = json.load(handle)
    lines = ["| model (batch) | configuration | ms / batch | × stock | × ours dense | GFLOP / batch | FLOP bound "
             "over stock | of bound | bound over ours dense | of bound | max abs diff to stock |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        elmo_files = (os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5"))
        write_elmo_files(options, random_elmo_weights(options, seed=0), *elmo_files)
        for task, (config, data_file, batch_size) in TASKS.items():
            build, tensors = task_models(config, elmo_files, os.path.join(data_root, data_file), batch_size)
            models = configurations(build)
            with torch.no_grad():
                reference = _first_output(models["stock"], tensors)
                differences = {name: float((_first_output(m, tensors) - reference).abs().max())
                               for name, m in models.items()}
                flops = {name: matmul_flops(model, tensors) for name, model in models.items()}
                seconds = interleaved_medians({name: (lambda m=model: (_reset(m), m(**tensors)))
                                               for name, model in models.items()}, repeats)
            for name in models:
                speedup, bound = seconds["stock"] / seconds[name], flops["stock"] / flops[name]
                own_speedup, own_bound = seconds["ours, dense"] / seconds[name], flops["ours, dense"] / flops[name]
                own = f"{own_speedup:.2f} | {flops[name] / 1e9:.1f} | {bound:.2f} | {speedup / bound:.0%} | " \
                      f"{own_bound:.2f} | {own_speedup / own_bound:.0%}" if name != "stock" else \
                      f" | {flops[name] / 1e9:.1f} | | | |"
                lines.append(f"| {task} ({batch_size}) | {name} | {1000 * seconds[name]:.0f} | {speedup:.2f} | {own} | "
                             f"{differences[name]:.1e} |")
                print(lines[-1], flush=True)
            del models
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", nargs="+", choices=("lstm", "paths", "models"), default=["lstm", "paths", "models"])
    parser.add_argument("--out", default="docs/performance_task_lstms.md")
    args = parser.parse_args()
    data_root = os.environ.get("LSTMFACT_DATA", "")
    if "models" in args.parts and not os.path.isdir(os.path.join(data_root, "elmo", "official_options")):
        parser.error(f"LSTMFACT_DATA={data_root!r} has no elmo/official_options (needed by --parts models)")
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormal floats in random-weight activations would time the FPU, not the model
    load = os.getloadavg()[0]
    wait_policy = f", OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}" if "OMP_WAIT_POLICY" in os.environ else ""
    lines = ["# Every LSTM of a model, compressed: speed on CPU", "",
             f"torch {torch.__version__}, {args.threads} threads{wait_policy}, {os.cpu_count()} CPUs (load average "
             f"{load:.1f} at the start), wall clock, median of {args.repeats} interleaved rounds after a warm-up.",
             "Generated by `python benchmarks/task_lstm_speed.py`."]
    if "lstm" in args.parts:
        lines += ["", "## One LSTM: `torch.nn.LSTM` vs its compressible conversion", "",
                  "FLOP bound: multiply-adds per token of W_i and W_h, dense over compressed (rank r: r(m + n) "
                  "for an m × n matrix); the last columns: the speed-up over nn.LSTM as a fraction of that bound.", ""]
        lines += lstm_table(args.repeats)
    if "paths" in args.parts:
        lines += ["", "## A low-rank W_h in inference: time loop or fused kernel", "",
                  "W_h at r = 10 (W_i dense or r = 10), inference, each path forced; \"the rule picks\": the loop from "
                  "`FACTORED_LOOP_MIN_HIDDEN` = {} hidden units (one thread, two or more) on, else U V multiplied "
                  "out for the kernel.".format(lstm_module.FACTORED_LOOP_MIN_HIDDEN), ""]
        lines += path_table(args.repeats, sorted({1, args.threads}))
    if "models" in args.parts:
        lines += ["", "## Whole models (official ELMo shapes, random weights)", "",
                  "Inference on the first instances (the number in brackets) of SQuAD dev / SNLI test / SST-5 dev. "
                  "Stock: AllenNLP's `Elmo` and `nn.LSTM`s; ours: the fast ELMo path and converted LSTMs "
                  "(`with_compressed_lstms`), dense or compressed. FLOP bound: stock's "
                  "matmul FLOPs on the batch over the configuration's (`torch.utils.flop_counter`); compressed: W_i "
                  "and W_h of the selected LSTMs, SVD at rank r (a matrix where r would not save parameters - "
                  "BiDAF's 400 x 100 W_h at r = 100 - at its break-even rank, 79).", ""]
        lines += model_table(args.repeats, data_root)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
