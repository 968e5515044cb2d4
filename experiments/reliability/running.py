"""
Running one reliability case: a library call or config that must raise, or an `allennlp compress`
command line (run in this process, as the `allennlp` script runs it) that must exit with one error
line; and what it left in its scratch folder.
"""
import contextlib
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Type, Union

from allennlp.commands import main as allennlp_main

from experiments.reliability.workspace import Workspace


@dataclass(frozen=True)
class Case:
    """
    One bad input and what the user must see.

    # Parameters

    id : `str`
        A short unique name.
    area : `str`
        Where the input goes: `"library"`, `"ELMo config"`, `"LM config"`, `"ELMo files"`,
        `"compress, ELMo archive"`, `"compress, LM archive"`.
    what : `str`
        The bad input, in words.
    expect : `Union[Type[BaseException], int]`
        The exception the call must raise (exactly this class), or the exit status of a command line.
    fragment : `str`
        Text the error message must contain (the bad value, what is allowed).
    run : `Callable[[Workspace, Path], object]`, optional
        Does the bad thing (outputs go to the scratch folder given).
    argv : `Callable[[Workspace, Path], List[str]]`, optional
        Instead of `run`: the arguments after `allennlp`.
    prepare : `Callable[[Workspace, Path], object]`, optional
        Writes the bad input files into the scratch folder first (they are not "left behind").
    item : `str`, optional
        The issue's item this case checks ("wrong result 1", ...), if any.
    """

    id: str
    area: str
    what: str
    expect: Union[Type[BaseException], int]
    fragment: str
    run: Optional[Callable[[Workspace, Path], object]] = None
    argv: Optional[Callable[[Workspace, Path], List[str]]] = None
    prepare: Optional[Callable[[Workspace, Path], object]] = None
    item: str = ""


@dataclass
class Outcome:
    """What a case did: the error (class name and message) or exit status, and the files it left behind."""

    error: Optional[str]
    message: str
    exit_code: Optional[int] = None
    stderr: List[str] = field(default_factory=list)
    left_behind: List[str] = field(default_factory=list)

    def as_expected(self, case: Case) -> bool:
        if isinstance(case.expect, int):
            matches = self.exit_code == case.expect
        else:
            matches = self.error == case.expect.__name__
        return matches and case.fragment in self.message


def run_cli(argv: Sequence[str]) -> Outcome:
    """Run `allennlp ARGV...` in this process; its exit status, its last line on stderr and all of stderr."""
    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = ["allennlp", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            allennlp_main(prog="allennlp")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = saved_argv
    lines, printed = err.getvalue().splitlines(), out.getvalue().splitlines()
    message = (lines if code else printed or lines or [""])[-1]
    return Outcome(None, message, code, lines)


def run_case(case: Case, workspace: Workspace) -> Outcome:
    """Run `case` in a new scratch folder of `workspace`."""
    scratch = workspace.scratch(case.id)
    if case.prepare is not None:
        case.prepare(workspace, scratch)
    prepared = set(os.listdir(scratch))
    if case.argv is not None:
        outcome = run_cli(case.argv(workspace, scratch))
    else:
        try:
            case.run(workspace, scratch)
            outcome = Outcome(None, "no error")
        except Exception as error:
            outcome = Outcome(type(error).__name__, str(error))
    outcome.left_behind = sorted(name for name in os.listdir(scratch) if name not in prepared)
    return outcome


def shown(text: str, workspace: Workspace) -> str:
    """`text` with the workspace's folder replaced by `WORK` (the documented form of a message)."""
    return text.replace(str(workspace.root), "WORK")
