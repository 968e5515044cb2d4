"""
Every test under tests/experiments tests the experiments (not the library): marked `experiments`;
those that take more than about 10 s on one CPU thread are also marked `slow`
(`pytest -m "not slow"` skips them).
"""
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# Test functions (by file relative to this folder) that take about 10 s or more on one loaded CPU:
# a sweep end to end through stock commands (~30 s), a local Ray instance (~8 s), the method study
# on the tiny LM (~9 s for the three, which share its training and study); the fault scenarios.
SLOW_TESTS = {
    "sweep/test_end_to_end.py": {"test_tiny_cell_end_to_end_and_its_report"},
    "sweep/test_ray.py": {"test_ray_dispatch_gathers_the_same_csv"},
    "lm_methods/test_study.py": {"test_every_part_is_measured_and_cached", "test_report_files",
                                 "test_winata2019_table1_preset"},
    # real `allennlp compress` / `allennlp train` processes, killed and run again (~15-40 s each)
    "reliability/test_faults.py": {"test_compress_killed_while_writing_leaves_only_what_the_next_run_removes",
                                   "test_compress_stopped_while_writing_leaves_nothing",
                                   "test_train_killed_while_checkpointing_resumes_from_the_last_complete_checkpoint",
                                   "test_train_stopped_while_blocked_in_logging_stops"},
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if HERE not in path.parents:
            continue
        item.add_marker(pytest.mark.experiments)
        if item.originalname in SLOW_TESTS.get(path.relative_to(HERE).as_posix(), ()):
            item.add_marker(pytest.mark.slow)
