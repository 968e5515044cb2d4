"""
Reliability of the library, the config blocks and `allennlp compress` against bad input and faults:
every bad input gets one clear error before any work, every fault leaves nothing broken.

- `cases`: the table of bad inputs (library calls, the compression blocks of ELMo and language-model
  configs, ELMo files, `allennlp compress` on ELMo and LM archives), each with the error it must give.
- `faults`: real subprocesses killed (SIGKILL) or stopped (SIGTERM) mid-way through `allennlp compress`
  and `allennlp train`, and what is left on disk and what the next run does.
- `workspace`: the tiny ELMo, archives and data the cases run on; `running`: runs a case;
- `document`: `docs/reliability.md` from both (`python -m scripts.reliability_report`).
The tests (`tests/experiments/reliability/`) run the same table.
"""
