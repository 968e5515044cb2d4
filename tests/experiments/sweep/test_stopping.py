"""A sweep stopped with SIGTERM stops the commands it runs and starts no more (they were left running)."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from experiments.sweep.jobs import StepFailed, SubprocessRunner

# A command that writes its pid, then sleeps far longer than any test waits.
SLEEPER = [sys.executable, "-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(300)"]


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_stop_running_ends_the_running_commands_and_refuses_new_ones(tmp_path):
    runner, pid_file, errors = SubprocessRunner(str(tmp_path)), tmp_path / "pid", []

    def run():
        try:
            runner(SLEEPER + [str(pid_file)], {}, str(tmp_path / "logs" / "sleep.log"))
        except StepFailed as error:
            errors.append(str(error))

    worker = threading.Thread(target=run)
    worker.start()
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text())
    runner.stop_running()
    worker.join(30)
    assert not worker.is_alive() and not is_running(int(pid_file.read_text()))
    assert len(errors) == 1 and f"exited with {-signal.SIGTERM}" in errors[0]
    with pytest.raises(StepFailed, match="not started: the sweep was stopped"):
        runner(SLEEPER + [str(tmp_path / "second")], {}, str(tmp_path / "logs" / "second.log"))
    assert not (tmp_path / "second").exists()


def test_a_runner_pickles_without_its_running_commands(tmp_path):
    runner = SubprocessRunner(str(tmp_path))
    runner.stop_running()
    copy = pickle.loads(pickle.dumps(runner))  # as Ray sends it to a worker
    assert copy.cwd == str(tmp_path) and not copy._stopped and not copy._running


def test_sigterm_of_the_sweep_process_stops_its_commands(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from experiments.sweep.jobs import SubprocessRunner, stop_commands_on_sigterm
        runner = SubprocessRunner({str(tmp_path)!r})
        stop_commands_on_sigterm(runner)
        runner({SLEEPER!r} + [{str(tmp_path / 'pid')!r}], {{}}, {str(tmp_path / 'sleep.log')!r})
    """)
    sweep = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    pid_file = tmp_path / "pid"
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text())
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(30) == 128 + signal.SIGTERM
    assert wait_for(lambda: not is_running(int(pid_file.read_text())))
