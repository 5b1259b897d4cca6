"""`core.warm_up()` leaves nothing for a process's first message to load (issue 16 item 4).

Run in a fresh interpreter: in the test process, earlier tests have built google-genai's
models and filled the caches already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import apsara_env
from tests.fakes.fixtures import gemini_env
from tests.fakes.gemini_server import FakeGemini

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import asyncio, json, sys
import pydantic
from pymongo import monitoring

commands = []

class Commands(monitoring.CommandListener):
    def started(self, event):
        if event.command_name not in ("hello", "isMaster", "ping", "endSessions"):
            commands.append(event.command_name)
    def succeeded(self, event): pass
    def failed(self, event): pass

class Connections(monitoring.ConnectionPoolListener):
    opened = 0
    def connection_created(self, event): Connections.opened += 1
    def __getattr__(self, name): return lambda event: None

monitoring.register(Commands())
monitoring.register(Connections())

def built():
    from google.genai import types
    return {n for n, c in vars(types).items() if isinstance(c, type)
            and issubclass(c, pydantic.BaseModel) and c.__pydantic_complete__}

async def main():
    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from tests.factories import create_user, principal_of

    core = await open_core(Settings())
    actor = principal_of(await create_user(core, "warm@example.com", plan="premium"))
    convs = [(await core.conversations.create(actor=actor, title="w"))["conversationId"]
             for _ in range(2)]
    await core.warm_up()
    before, opened = built(), Connections.opened
    rounds = []
    for cid in convs:
        commands.clear()
        await core.chat.generate(actor=actor, conversation_id=cid, text="hello")
        await core.limits.settled()  # its accounting follows the reply (reply_accounting)
        rounds.append(list(commands))
    out = {"newly_built": sorted(built() - before), "rounds": rounds,
           "connections_opened": Connections.opened - opened}
    await core.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_first_generate_after_warm_up_builds_reads_and_connects_nothing_new(
    tmp_path: Path, mongo_uri: str, fake_gemini: FakeGemini
) -> None:
    env = apsara_env(mongo_uri, tmp_path, PYTHONPATH=str(ROOT), **gemini_env(fake_gemini))
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["newly_built"] == []  # google-genai's request and response models are ready
    first, second = out["rounds"]
    assert first == second  # no plan or provider read, no extra command on the first message
    assert out["connections_opened"] == 0  # its concurrent commands find pooled connections
