"""Start the full-screen app: open the Core, run the app, close the Core."""

from __future__ import annotations

import asyncio

from apsara_core.core import open_core
from apsara_core.errors import ApsaraError
from apsara_tui.commands.runtime import fail, load_settings


def launch_tui() -> None:
    """Open the Core in the app's event loop and run `ApsaraApp` until it exits."""
    settings = load_settings()

    async def main() -> None:
        from apsara_tui.app import ApsaraApp

        core = await open_core(settings)
        try:
            await ApsaraApp(core=core).run_async()
        finally:
            await core.close()

    try:
        asyncio.run(main())
    except ApsaraError as exc:
        fail(exc)
