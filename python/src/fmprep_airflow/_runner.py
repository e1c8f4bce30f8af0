"""Run the ``fmprep`` binary as a child process, the way an Airflow task needs it.

What this module relies on from fmprep's CLI contract:

* all logs go to stderr, one line at a time: they are forwarded to a :mod:`logging` logger as
  they arrive, so the task log shows progress while the job runs, not after it;
* on success (exit 0) the last non-empty stdout line is the one-line JSON manifest: it is
  parsed and returned, so a ``PythonOperator`` pushes it to XCom;
* on failure stdout is empty, the exit code names the kind of failure (see
  :data:`EXIT_CODES`) and stderr ends with a one-line ``error: ...`` message.

Cancellation. Airflow stops a running task by raising an exception inside it:
``AirflowTaskTimeout`` from its SIGALRM handler when ``execution_timeout`` expires, and an
``AirflowException`` (``AirflowTaskTerminated`` in newer versions) from its SIGTERM handler
when the task is killed. Python runs signal handlers in the main thread, which is the thread
that starts and waits on the child here, and they interrupt its blocking waits. Whatever
exception leaves that stretch, from the moment the process exists, the child is stopped
(SIGTERM, then SIGKILL after a grace period) and reaped before the exception goes on.

On purpose, nothing global is installed or changed: no signal handler, no ``atexit`` hook,
no new session or process group. The child stays in the task's process group, which Airflow
signals on some paths (a task killed from the UI, a zombie task). Not when the task process
itself is SIGKILLed (the OOM killer; Airflow 2.10 then signals nobody): for that the child runs
with ``FMPREP_EXIT_WITH_PARENT=1``, and fmprep stops as on SIGTERM when this process dies, by
whatever signal (Linux: ``PR_SET_PDEATHSIG``), leaving no manifest behind. Pass
``env={"FMPREP_EXIT_WITH_PARENT": "0"}`` to let a run outlive its parent.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import IO, Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "EXIT_CODES",
    "FmprepError",
    "FmprepNotFoundError",
    "FmprepTimeout",
    "find_fmprep",
    "run_fmprep",
]

#: Logger used when the caller passes none. Airflow copies the task log handlers onto the
#: root logger while a task runs, so records from this logger end up in the task log.
LOGGER_NAME = "fmprep_airflow"

#: Seconds between SIGTERM and SIGKILL when the child has to be stopped. fmprep exits on
#: SIGTERM at once (exit 143); the grace period only matters if it is stuck in a syscall.
#: It stays well below Airflow's ``killed_task_cleanup_time`` (60 s by default).
DEFAULT_GRACE_PERIOD = 10.0

#: Meaning of fmprep's exit codes, from its CLI contract; used in error messages.
EXIT_CODES: Dict[int, str] = {
    1: "internal error",
    2: "usage error",
    3: "bad input data",
    4: "local I/O error",
    5: "S3/remote error",
    6: "output already holds manifest.json (pass --overwrite or set FMPREP_OVERWRITE)",
    130: "interrupted by SIGINT",
    143: "terminated by SIGTERM",
}

# Longest single blocking wait. Signals interrupt waits anyway; the bound makes the loops
# re-check the deadline and the child's state regularly.
_POLL_SECONDS = 0.5
# How long to keep reading output after the child exited or was stopped. Normally the pipes
# close with the process; a grandchild that inherited them could keep them open forever.
_DRAIN_SECONDS = 2.0
# stderr lines kept for the error message (older lines are only in the log).
_STDERR_TAIL = 50
# Lines kept in FmprepError.message after the last ``error:`` line (anyhow "Caused by" chains).
_MESSAGE_MAX_LINES = 10

# fmprep prefixes its stderr lines with its name; the failure line is ``fmprep: error: ...``.
_PROGRAM_PREFIX = re.compile(r"^fmprep:\s*")
_ERROR_LINE = re.compile(r"(?:fmprep:\s*)?error\b", re.IGNORECASE)
# A level word inside a typical log prefix (``2024-01-01T00:00:00Z  WARN fmprep: ...``).
_LEVEL_WORD = re.compile(r"\b(ERROR|WARN|WARNING)\b")
_WARNING_LINE = re.compile(r"(?:fmprep:\s*)?warn(?:ing)?\b", re.IGNORECASE)


class FmprepNotFoundError(FileNotFoundError):
    """The fmprep binary could not be found (neither ``$FMPREP_BIN`` nor ``fmprep`` on PATH)."""


class FmprepError(RuntimeError):
    """fmprep exited with a non-zero code, or exited 0 without a manifest.

    Attributes:
        exit_code: the child's exit status; negative ``-N`` if it died from signal ``N``
            (the :mod:`subprocess` convention), ``0`` if it succeeded but printed no manifest.
        message: fmprep's own explanation: its last ``error: ...`` line (without the
            ``fmprep: `` prefix) and any lines after it, or the last stderr line if there was
            no such line.
        command: the argv that was run.
        stderr: the last lines of stderr (at most 50).
    """

    def __init__(
        self,
        exit_code: int,
        message: str,
        command: Optional[Sequence[str]] = None,
        stderr: Optional[Sequence[str]] = None,
    ) -> None:
        # args stays (exit_code, message) so the exception pickles and reprs sensibly.
        super().__init__(exit_code, message)
        self.exit_code = exit_code
        self.message = message
        self.command: List[str] = list(command or [])
        self.stderr: List[str] = list(stderr or [])

    def __str__(self) -> str:
        return f"fmprep failed ({_describe_exit(self.exit_code)}): {self.message}"


class FmprepTimeout(FmprepError):
    """fmprep did not finish within the ``timeout`` given to :func:`run_fmprep`.

    Raised only after the child has been stopped and reaped; ``exit_code`` is the status it
    ended with (normally 143, or ``-9`` if it had to be killed). ``timeout`` holds the limit.
    """

    def __init__(
        self,
        exit_code: int,
        message: str,
        command: Optional[Sequence[str]] = None,
        stderr: Optional[Sequence[str]] = None,
        timeout: Optional[float] = None,
    ) -> None:
        super().__init__(exit_code, message, command, stderr)
        self.timeout = timeout


def find_fmprep(env: Optional[Mapping[str, str]] = None) -> str:
    """Return the path of the fmprep binary to run.

    ``$FMPREP_BIN`` wins (a path, or a bare name looked up on PATH); otherwise ``fmprep`` is
    looked up on PATH. ``env`` is the environment to read (default :data:`os.environ`).

    Raises:
        FmprepNotFoundError: with a message that says what was tried.
    """
    environ = os.environ if env is None else env
    search_path = environ.get("PATH", os.defpath)
    configured = environ.get("FMPREP_BIN", "")
    if configured:
        candidate = os.path.expanduser(configured)
        if os.path.dirname(candidate):
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return os.path.abspath(candidate)
        else:
            found = shutil.which(candidate, path=search_path)
            if found:
                return found
        raise FmprepNotFoundError(
            f"FMPREP_BIN={configured!r} is not an executable file; "
            "point it at the fmprep binary (e.g. target/release/fmprep)"
        )
    found = shutil.which("fmprep", path=search_path)
    if found:
        return found
    raise FmprepNotFoundError(
        "fmprep binary not found: set FMPREP_BIN to its path or put `fmprep` on PATH "
        f"(PATH={search_path!r})"
    )


def run_fmprep(
    args: Sequence[Union[str, "os.PathLike[str]"]],
    timeout: Optional[float] = None,
    env: Optional[Mapping[str, Optional[str]]] = None,
    logger: Union[logging.Logger, "logging.LoggerAdapter[Any]", str, None] = None,
    *,
    grace_period: float = DEFAULT_GRACE_PERIOD,
) -> Dict[str, Any]:
    """Run ``fmprep <args...>`` and return its manifest as a dict.

    Args:
        args: fmprep's arguments, without the program name, e.g.
            ``["prepare", "s3://b/pre", "--output", "s3://b/prep"]``.
        timeout: seconds before the child is stopped and :class:`FmprepTimeout` raised;
            ``None`` waits for ever (Airflow's ``execution_timeout`` still applies).
        env: variables to set for the child on top of :data:`os.environ` (a value of
            ``None`` removes that variable). ``FMPREP_BIN`` is read from here too.
        logger: where fmprep's stderr lines go: a logger, a logger name, or ``None`` for
            the ``fmprep_airflow`` logger. Lines starting ``error``/``warning`` (or with an
            ``ERROR``/``WARN`` level in their prefix) are logged at that level, others at INFO.
        grace_period: seconds between SIGTERM and SIGKILL when the child must be stopped.

    Returns:
        The JSON object on the last non-empty stdout line.

    Raises:
        FmprepNotFoundError: no binary to run.
        FmprepTimeout: ``timeout`` expired (the child has been stopped).
        FmprepError: non-zero exit, or no JSON object on stdout.
        Any exception raised while waiting (``AirflowTaskTimeout``, ``KeyboardInterrupt``,
        ...) propagates unchanged, after the child has been stopped.
    """
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    log = _resolve_logger(logger)
    child_env = _child_env(env)
    command = [find_fmprep(child_env)] + [os.fspath(a) for a in args]

    log.info("Running: %s", shlex.join(command))
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    child = _Child(log)
    try:
        # Started inside the try: an exception can arrive as soon as the process exists
        # (even while the reader threads start), and must still stop it.
        child.start(command, child_env)
        finished = child.pump(deadline) and child.wait(deadline)
    except BaseException as exc:
        # Airflow's timeout or kill, Ctrl-C, SystemExit...: never leave fmprep running.
        # Stop first, log after: nothing may stand between the exception and the stop.
        if child.stop(grace_period):
            log.warning(
                "Stopped fmprep (exit status %s) because of %s",
                child.returncode,
                type(exc).__name__,
            )
        raise
    if not finished:
        log.error("fmprep did not finish within %s s; stopping it", timeout)
        child.stop(grace_period)
        child.drain()
        raise FmprepTimeout(
            child.returncode,
            f"did not finish within {timeout} s and was stopped",
            command,
            child.stderr_tail,
            timeout=timeout,
        )
    child.drain()

    if child.returncode != 0:
        raise FmprepError(
            child.returncode, _error_message(child.stderr_tail), command, child.stderr_tail
        )
    manifest = _parse_manifest(child.stdout)
    if manifest is None:
        raise FmprepError(
            0,
            "exited 0 but the last stdout line is not a JSON object (expected the manifest)",
            command,
            child.stderr_tail,
        )
    log.info(
        "fmprep finished in %.1f s (feature_dim=%s)",
        time.monotonic() - started,
        manifest.get("feature_dim"),
    )
    return manifest


class _Child:
    """A running fmprep process and the two threads that drain its pipes.

    Both pipes must be read concurrently (a child blocked writing a full stdout pipe would
    never finish its stderr), so each gets a reader thread feeding one queue. The caller's
    thread consumes that queue: it does the logging and the deadline checks, and it is the
    thread Airflow's exceptions arrive in.
    """

    def __init__(self, log: Any) -> None:
        self._log = log
        self._lines: "queue.Queue[Tuple[str, Optional[str]]]" = queue.Queue()
        self._open_streams = 2
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.stdout: List[str] = []
        self.stderr_tail: Deque[str] = collections.deque(maxlen=_STDERR_TAIL)

    def start(self, command: List[str], env: Dict[str, str]) -> None:
        """Start the process, then one reader thread per pipe."""
        try:
            # stdin is closed: fmprep reads stdin for the input `-`, never by accident here.
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise FmprepNotFoundError(f"cannot execute {command[0]!r}: {exc}") from exc
        for name, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(
                target=_read_lines,
                args=(pipe, name, self._lines),
                name=f"fmprep-{self.proc.pid}-{name}",
                daemon=True,  # a pipe held open by a stray grandchild must not block exit
            ).start()

    @property
    def returncode(self) -> int:
        assert self.proc is not None, "child not started"
        code = self.proc.returncode
        assert code is not None, "child not reaped yet"
        return code

    def pump(self, deadline: Optional[float]) -> bool:
        """Handle output lines until both pipes are closed.

        Returns False if ``deadline`` (a :func:`time.monotonic` value) passed first.
        """
        while self._open_streams:
            wait = _POLL_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            try:
                stream, line = self._lines.get(timeout=wait)
            except queue.Empty:
                continue
            if line is None:
                self._open_streams -= 1
            elif stream == "stdout":
                self.stdout.append(line)
            else:
                self.stderr_tail.append(line)
                self._log.log(_level_of(line), "%s", line)  # fmprep prefixes its own lines
        return True

    def wait(self, deadline: Optional[float]) -> bool:
        """Reap the child; returns False if ``deadline`` passed first."""
        while True:
            wait = _POLL_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            try:
                self.proc.wait(timeout=wait)  # type: ignore[union-attr]
                return True
            except subprocess.TimeoutExpired:
                continue

    def drain(self) -> None:
        """After the child is gone: log what is still in the pipes, then close them."""
        if self.pump(time.monotonic() + _DRAIN_SECONDS):
            # Both reader threads have seen EOF, so closing cannot race with a read.
            self.proc.stdout.close()  # type: ignore[union-attr]
            self.proc.stderr.close()  # type: ignore[union-attr]
        else:
            self._log.warning("fmprep's output pipes are still open (left to a grandchild?)")

    def stop(self, grace_period: float) -> bool:
        """SIGTERM the child, SIGKILL it after ``grace_period`` s, and reap it.

        Returns False if there was nothing to stop (not started, or already exited).
        The SIGKILL and the reaping sit in ``finally`` so they happen even if another
        exception (a second SIGTERM from Airflow, say) interrupts the grace period.
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        try:
            proc.terminate()
            try:
                proc.wait(timeout=grace_period)
            except subprocess.TimeoutExpired:
                self._log.warning(
                    "fmprep (pid %d) ignored SIGTERM for %s s; sending SIGKILL",
                    proc.pid,
                    grace_period,
                )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return True


def _read_lines(pipe: IO[bytes], name: str, sink: "queue.Queue[Tuple[str, Optional[str]]]") -> None:
    """Reader thread: push each line of ``pipe`` to ``sink``, then ``(name, None)`` at EOF."""
    try:
        for raw in iter(pipe.readline, b""):
            # fmprep logs UTF-8, but a product title could carry anything: never fail on it.
            sink.put((name, raw.decode("utf-8", "replace").rstrip("\r\n")))
    except (OSError, ValueError):
        pass  # pipe closed under us; end of stream either way
    finally:
        sink.put((name, None))


def _resolve_logger(logger: Union[logging.Logger, "logging.LoggerAdapter[Any]", str, None]) -> Any:
    if logger is None:
        return logging.getLogger(LOGGER_NAME)
    if isinstance(logger, str):
        return logging.getLogger(logger)
    return logger


def _child_env(overrides: Optional[Mapping[str, Optional[str]]]) -> Dict[str, str]:
    env = dict(os.environ)
    # A run must not outlive the task that started it (see the module docstring); the
    # caller's environment or ``env`` may still say otherwise.
    env.setdefault("FMPREP_EXIT_WITH_PARENT", "1")
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def _level_of(line: str) -> int:
    """Logging level for one fmprep stderr line (INFO unless it looks like a problem)."""
    text = line.lstrip()
    if _ERROR_LINE.match(text):
        return logging.ERROR
    if _WARNING_LINE.match(text):
        return logging.WARNING
    # Only look at the start of the line, where a log prefix puts the level.
    level = _LEVEL_WORD.search(text[:40])
    if level:
        return logging.ERROR if level.group(1) == "ERROR" else logging.WARNING
    return logging.INFO


def _error_message(stderr_tail: Sequence[str]) -> str:
    """fmprep's explanation of a failure, taken from the end of its stderr."""
    lines = [line.rstrip() for line in stderr_tail if line.strip()]
    if not lines:
        return "no message on stderr"
    for index in range(len(lines) - 1, -1, -1):
        if _ERROR_LINE.match(lines[index].lstrip()):
            message = lines[index : index + _MESSAGE_MAX_LINES]
            # "fmprep: error: x" -> "error: x": the exception already says it is fmprep.
            message[0] = _PROGRAM_PREFIX.sub("", message[0].lstrip(), count=1)
            return "\n".join(message)
    return lines[-1]


def _parse_manifest(stdout_lines: Sequence[str]) -> Optional[Dict[str, Any]]:
    """The JSON object on the last non-empty stdout line, or None."""
    for line in reversed(stdout_lines):
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    meaning = EXIT_CODES.get(code)
    return f"exit code {code}: {meaning}" if meaning else f"exit code {code}"
