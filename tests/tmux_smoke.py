"""Smoke walk of the real `apsara` app in tmux at 80×24: Home → create a user → choose them →
create a conversation → chat (against the fake Gemini in its own process) → statistics.

    .venv/bin/python -m tests.tmux_smoke          # exit 0 when every step showed what it should

Not part of `make test` (it needs tmux and takes ~30 s). Each step waits on what the screen
shows (tmux capture-pane), never on a fixed sleep alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.gemini_process import fake_gemini_process

SESSION = f"apsara-smoke-{os.getpid()}"
ROOT = Path(__file__).resolve().parents[1]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def keys(*sent: str, literal: bool = False) -> None:
    tmux("send-keys", "-t", SESSION, *(["-l"] if literal else []), *sent)


def wait_for(text: str, timeout: float = 30) -> None:
    """Wait until `text` is on screen; fail with the screen otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in screen():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen:\n{screen()}")


def back_home() -> None:
    """Escape (alone: a key right after it would read as alt+key), then Home is shown."""
    keys("Escape")
    time.sleep(0.3)
    wait_for("Type a number")
    time.sleep(0.3)


def walk() -> None:
    wait_for("db embedded", timeout=60)  # the database is open
    keys("8")
    wait_for("8. Create a user")
    keys("Smoke Tester", literal=True)
    wait_for("Smoke Tester")
    keys("Tab")
    time.sleep(0.3)
    keys("smoke@example.com", literal=True)
    wait_for("smoke@example.com")
    keys("Tab")
    time.sleep(0.3)
    keys("Enter")  # Enter in the last field submits
    wait_for("Created")
    back_home()
    keys("1", "0")
    wait_for("10. Choose/switch user")
    wait_for("smoke@example.com")
    keys("Enter")  # chosen: back on Home, the header names the user
    wait_for("smoke@example.com · no conversation")
    time.sleep(0.3)
    keys("1")  # 1 alone opens action 1 after a short wait
    wait_for("1. Create a new conversation")
    keys("Trip planning in Kyoto", literal=True)
    wait_for("Trip planning in Kyoto")
    keys("C-s")
    wait_for("Type a number")
    keys("4")
    wait_for("ctrl+j new line")
    keys("hello smoke", literal=True)
    wait_for("hello smoke")
    keys("Enter")
    wait_for("Echo: hello smoke", timeout=60)
    # 80×24: the header keeps the conversation's title whole; the side panel shows the quota
    wait_for("smoke@example.com · Trip planning in Kyoto")
    wait_for("left today")
    wait_for("2.5-flash:")
    back_home()
    keys("1", "7")
    wait_for("messages stored")
    wait_for("model replies per day")  # a chart with a scale (0┤ …) and date labels
    wait_for("0┤")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, fake_gemini_process() as url:
        env = {
            "APSARA_DATA_DIR": str(Path(tmp) / "data"),
            "JWT_SECRET": "s" * 40,
            "GOOGLE_AI_API_KEY": "smoke-key",
            "GOOGLE_GEMINI_BASE_URL": url,
        }
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        command = f"cd {ROOT} && env {exports} {ROOT / '.venv/bin/apsara'}"
        tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", command)
        try:
            walk()
        except AssertionError as exc:
            print(f"tmux smoke: FAILED\n{exc}", file=sys.stderr)
            return 1
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
            # the app left its shared embedded server running, as it does for its user
            stop = [str(ROOT / ".venv/bin/apsara"), "db", "stop"]
            subprocess.run(stop, env={**os.environ, **env}, capture_output=True, timeout=60)
    print("tmux smoke: Home → create user → choose → conversation → chat → stats: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
