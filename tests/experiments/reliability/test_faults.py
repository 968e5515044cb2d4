"""Real `allennlp` processes killed or stopped mid-way leave nothing the next run cannot use or does not remove."""
import signal

from experiments.reliability.faults import (
    compress_killed_while_writing,
    train_killed_while_checkpointing,
    train_stopped_while_logging,
)


def test_compress_killed_while_writing_leaves_only_what_the_next_run_removes(reliability_workspace, tmp_path):
    outcome = compress_killed_while_writing(reliability_workspace, tmp_path / "fault")
    assert outcome.exit_status == -signal.SIGKILL
    assert "compressed.tar.gz" not in outcome.left_on_disk  # never a half-written archive under its name
    assert outcome.left_on_disk and all(name.startswith(".tmp-") for name in outcome.left_on_disk)
    assert outcome.next_run == "succeeded" and outcome.files_after_next_run == ["compressed.tar.gz"]


def test_compress_stopped_while_writing_leaves_nothing(reliability_workspace, tmp_path):
    outcome = compress_killed_while_writing(reliability_workspace, tmp_path / "fault", signal.SIGTERM)
    assert outcome.exit_status != 0 and outcome.seconds_to_exit < 30
    assert outcome.left_on_disk == []
    assert outcome.next_run == "succeeded"


def test_train_killed_while_checkpointing_resumes_from_the_last_complete_checkpoint(reliability_workspace, tmp_path):
    outcome = train_killed_while_checkpointing(reliability_workspace, tmp_path / "fault")
    assert outcome.exit_status == -signal.SIGKILL
    assert "training_state_e2_b0.th" not in outcome.left_on_disk  # the interrupted write has no final name
    assert {"model_state_e1_b0.th", "training_state_e1_b0.th"} <= set(outcome.left_on_disk)
    assert outcome.next_run.startswith("resumed and finished (Checkpoint e2_b0 in ") and "is incomplete" in \
        outcome.next_run
    assert not any(name.startswith(".tmp-") for name in outcome.files_after_next_run)  # the stale temporary is gone
    assert "training_state_e3_b0.th" in outcome.files_after_next_run


def test_train_stopped_while_blocked_in_logging_stops(reliability_workspace, tmp_path):
    outcome = train_stopped_while_logging(reliability_workspace, tmp_path / "fault")
    assert outcome.exit_status != 0 and outcome.seconds_to_exit < 60, outcome.output
    assert "model.tar.gz" not in outcome.left_on_disk and "--- Logging error ---" not in outcome.output
