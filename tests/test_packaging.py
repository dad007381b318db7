"""The built wheel works on its own: a fresh virtual environment, no editable install."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
         str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = wheels.glob("searchidx-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True)
    searchidx = venv / "bin" / "searchidx"
    index = tmp_path / "index"

    version = subprocess.run([searchidx, "--version"], capture_output=True, text=True, check=True)
    assert "searchidx, version" in version.stdout

    subprocess.run([searchidx, "--index", index, "index", ROOT / "corpus"],
                   check=True, capture_output=True)
    found = subprocess.run([searchidx, "--index", index, "search", "protein structure"],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert "AlphaFold" in found.stdout

    # Templates and static files come from the wheel, not from this checkout.
    port = _free_port()
    server = subprocess.Popen(
        [searchidx, "--index", index, "serve", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        page = _get_when_up(f"http://127.0.0.1:{port}/?q=protein+structure")
        assert "AlphaFold" in page
        css = _get_when_up(f"http://127.0.0.1:{port}/static/style.css")
        assert "{" in css
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get_when_up(url: str, attempts: int = 100) -> str:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8")
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")
