"""The privacy promise, checked: reading an image writes no file, opens no socket, starts no process, and
the unredacted text never appears in what the summary serialises to."""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from so8t.ocr import summarize_image
from so8t.ocr.engine import engine_for

REPO = Path(__file__).resolve().parents[2]
NOTICE = (REPO / "samples" / "notice.png").read_bytes()
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _listing(directory: Path) -> set[str]:
    return {str(path) for path in directory.rglob("*")}


def test_ocr_writes_no_file_and_opens_no_socket_in_process(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """Python-level guard: any write-mode open or socket during OCR (model loading included) fails the test."""
    engine_for.cache_clear()  # load the models under watch too
    attempts: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            attempts.append(f"open({file!r}, {mode!r})")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            attempts.append(f"os.open({path!r})")
        return real_os_open(path, flags, *args, **kwargs)

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            attempts.append("socket")
            raise OSError("sockets are forbidden during OCR")

    def no_connection(*args, **kwargs):
        attempts.append("create_connection")
        raise OSError("sockets are forbidden during OCR")

    monkeypatch.chdir(tmp_path)
    temp_dir = Path(tempfile.gettempdir())
    before = _listing(temp_dir)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", no_connection)
    result = summarize_image(NOTICE)
    monkeypatch.undo()
    assert attempts == []
    assert result.lines, "the notice must actually have been read"
    assert list(tmp_path.iterdir()) == []
    created = _listing(temp_dir) - before
    assert not [path for path in created if "so8t" in path.lower() or "tess" in path.lower()]


def test_ocr_process_makes_no_write_socket_or_process_syscall(tmp_path: Path) -> None:
    """Kernel-level proof with strace, covering Tesseract's and OpenCV's C code as well: between two marker
    calls around summarize_image (models loaded inside), no file is opened for writing (except /dev/null,
    where Tesseract's debug output is sent), none is created, renamed or deleted, no socket is made and no
    process is started."""
    worker = (
        "import os, sys\n"
        "from so8t.ocr import summarize_image\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "os.path.exists('/so8t-ocr-begin')\n"
        "result = summarize_image(data)\n"
        "os.path.exists('/so8t-ocr-end')\n"
        "print(len(result.lines))\n"
    )
    trace = tmp_path / "trace.txt"
    work = tmp_path / "cwd"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "TMPDIR": str(work), "HOME": str(work)}
    completed = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=%file,%network,%process,%desc", "-o", str(trace),
         sys.executable, "-c", worker, str(REPO / "samples" / "notice.png")],
        cwd=work, env=env, capture_output=True, text=True, timeout=240, check=True)
    assert int(completed.stdout.strip()) > 0
    calls = trace.read_text().splitlines()
    begin = next(i for i, line in enumerate(calls) if "/so8t-ocr-begin" in line)
    end = next(i for i, line in enumerate(calls) if "/so8t-ocr-end" in line)
    during = calls[begin:end]
    assert len(during) > 10, "the trace must cover the OCR call"
    forbidden = re.compile(r"\b(socket|connect|bind|sendto|execve|fork|vfork|unlink|unlinkat|rename|renameat2?|"
                           r"mkdir|mkdirat|creat|link|symlink)\(")
    offending = [line for line in during if forbidden.search(line)
                 or (re.search(r"O_WRONLY|O_RDWR|O_CREAT", line) and '"/dev/null"' not in line)]
    assert offending == []
    assert list(work.iterdir()) == []


def test_unredacted_text_stays_out_of_serialised_forms() -> None:
    result = summarize_image(NOTICE)
    raw = result.raw_text()
    assert "5550-1234" in raw and "@example" in raw  # the sample's fake contact details were read...
    dumped = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    for secret in ("5550-1234", "sakura-lib", "example.jp"):
        assert secret not in dumped  # ...and appear nowhere in what can be stored or logged
        assert secret not in repr(result)
        assert secret not in result.fenced()
    assert result.redactions == {"phone": 1, "email": 1}
    assert "raw" not in dumped and "_raw_text" not in result.model_dump()
