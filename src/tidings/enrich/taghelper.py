"""Hashtags extracted in a helper process, beside the rest of an article's enrichment.

Hashtags are the costliest step of enrichment (~5 ms for an English article, ~20 ms for a
Chinese one, against ~10 ms for everything else) and need only the text and its language.
Where the machine has a spare core, a helper process extracts them while this one embeds the
article, looks for copies, places it in a story and writes the rows; their rows are written
last. A thread would not do: extraction is pure Python and holds the GIL. The helper is our
own plumbing — a socket pair, no executor — because an executor hands work over through threads of
its own, which wait for the GIL while the caller computes (up to the 5 ms switch interval).

Anything that goes wrong in the helper (it died, it hangs, it raised) costs only time: the
hashtags are extracted again in this process, which gives the same answer.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Protocol

from tidings.enrich import tags

log = logging.getLogger(__name__)
# A helper that takes longer than this over one article is taken for hung and replaced.
_ANSWER_TIMEOUT_S = 60.0
_MAX_FAILURES = 3  # helpers in a row that die or hang before this process stops starting them


class PendingTags(Protocol):
    """One article's hashtags being extracted; use as a context, `result()` inside it."""

    def result(self) -> list[tags.Tag]: ...

    def __enter__(self) -> PendingTags: ...

    def __exit__(self, *exc: object) -> None: ...


class _Here:
    """Extracted in this process, when asked."""

    def __init__(self, title: str, body: str, language: str | None) -> None:
        self.request = (title, body, language)

    def result(self) -> list[tags.Tag]:
        return tags.extract_tags(*self.request)

    def __enter__(self) -> _Here:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _There(_Here):
    """Extracted by the helper: the request is sent at once, the answer collected on demand.

    Holds the helper's lock from the request until the answer is in (or the helper is given
    up), so an answer never reaches the wrong article.
    """

    def __init__(self, helper: Helper, title: str, body: str, language: str | None) -> None:
        super().__init__(title, body, language)
        self.helper = helper
        self._answer: list[tags.Tag] | None = None
        self._waiting = True

    def _collect(self) -> None:
        if self._waiting:
            self._waiting = False
            self._answer = self.helper.receive()

    def result(self) -> list[tags.Tag]:
        self._collect()
        return super().result() if self._answer is None else self._answer

    def __exit__(self, *exc: object) -> None:
        try:
            self._collect()  # an article that failed half-way leaves no answer in the pipe
        finally:
            self.helper.release()


class Helper:
    """The helper process of this process (one, started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._failures = 0  # helpers in a row that died before answering
        self._disabled = False

    @property
    def pid(self) -> int | None:
        """The helper's process id while it runs."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the helper now (it takes a second to load), if this machine has a spare core."""
        with self._lock:
            self._start()

    def _start(self) -> bool:
        if self._connection is not None:
            return True
        if self._disabled or _cores() < 2:
            return False
        # A plain `python -m` child, not multiprocessing's: that one would import this
        # process's main module again (the whole web server) and may not run in a daemon.
        ours, theirs = socket.socketpair()
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))}
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=environment,
                # Out of the terminal's process group: Ctrl-C stops the server, which closes
                # the socket, which ends the helper (no second traceback).
                start_new_session=True,
            )
        except OSError:
            log.exception("could not start the hashtag helper; extracting hashtags here")
            ours.close()
            self._disabled = True
            return False
        finally:
            theirs.close()
        self._connection = Connection(ours.detach())
        return True

    def extract(self, title: str, body: str, language: str | None) -> PendingTags:
        """Start extracting one article's hashtags: in the helper when it is free, else here."""
        if not self._lock.acquire(blocking=False):  # another thread's article is there
            return _Here(title, body, language)
        try:
            if self._start() and self._send((title, body, language)):
                return _There(self, title, body, language)
        except BaseException:
            self._lock.release()
            raise
        self._lock.release()
        return _Here(title, body, language)

    def _send(self, request: tuple[str, str, str | None]) -> bool:
        assert self._connection is not None
        try:
            self._connection.send(request)
        except OSError:
            self._give_up("the hashtag helper stopped")
            return False
        return True

    def receive(self) -> list[tags.Tag] | None:
        """The helper's answer, or None when it failed (a dead or hung one is replaced)."""
        connection = self._connection
        if connection is None:
            return None
        try:
            if not connection.poll(_ANSWER_TIMEOUT_S):
                self._give_up("the hashtag helper did not answer in time")
                return None
            answer = connection.recv()
        except (OSError, EOFError):
            self._give_up("the hashtag helper stopped")
            return None
        self._failures = 0
        if isinstance(answer, BaseException):  # the same error will show when run here
            log.warning("the hashtag helper failed (%r); extracting them here", answer)
            return None
        return list(answer)

    def release(self) -> None:
        self._lock.release()

    def _give_up(self, reason: str) -> None:
        self.stop()
        self._failures += 1
        if self._failures >= _MAX_FAILURES:
            self._disabled = True
            log.error(
                "%s %d times in a row; extracting hashtags here from now on", reason, _MAX_FAILURES
            )
        else:
            log.warning("%s; extracting this article's hashtags here", reason)

    def stop(self) -> None:
        connection, process = self._connection, self._process
        self._connection = self._process = None
        if connection is not None:
            connection.close()
        if process is not None:
            process.kill()
            process.wait()


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Extracted once when the helper starts, so its models and dictionaries are loaded before the
# first article comes (jieba's takes most of a second).
_WARM_UP = [("Helper", "The helper extracts hashtags.", "en"), ("新聞", "今天的新聞。", "zh-Hant")]


def serve(connection: Connection) -> None:
    """The helper's loop: an article's text in, its hashtags out, until the enricher's
    process closes its end."""
    for request in _WARM_UP:
        tags.extract_tags(*request)
    while True:
        try:
            title, body, language = connection.recv()
        except EOFError:
            return
        answer: list[tags.Tag] | Exception
        try:
            answer = tags.extract_tags(title, body, language)
        except Exception as error:  # sent back: the caller extracts them itself
            answer = error
        try:
            connection.send(answer)
        except OSError:  # the enricher's process has gone
            return


_helper = Helper()
_inherited: list[Helper] = []


def helper() -> Helper:
    return _helper


def here(title: str, body: str, language: str | None) -> PendingTags:
    """Extract one article's hashtags in this process (when asked for the result)."""
    return _Here(title, body, language)


def _forget_helper() -> None:
    # A forked child must not talk over its parent's pipe: it starts its own helper. The
    # parent's stays referenced, so the child never reaps or warns about a process not its own.
    global _helper
    _inherited.append(_helper)
    _helper = Helper()


os.register_at_fork(after_in_child=_forget_helper)
atexit.register(lambda: _helper.stop())

if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
