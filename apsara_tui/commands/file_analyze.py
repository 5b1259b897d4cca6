"""`apsara file upload --analyze ...`: the model's answer about the uploaded files, streamed
like `apsara ai send` (thoughts dimmed), in a new conversation or `--conversation`."""

from __future__ import annotations

from typing import Any

from apsara_tui.commands.ai import finish, render
from apsara_tui.commands.runtime import console, run_as


def analyze_files(
    stored: list[dict[str, Any]],
    mode: str,
    question: str | None,
    conversation: str | None,
    user: str | None,
    json_out: bool,
) -> list[dict[str, Any]]:
    """Analyze each stored file in turn (one conversation for all), printing the answers live
    unless `json_out`; the response documents."""

    async def job(core: Any, me: Any) -> list[dict[str, Any]]:
        out, cid = [], conversation
        for record in stored:
            started = await core.file_analysis.start(
                actor=me,
                file_id=record["fileId"],
                mode=mode,
                question=question,
                conversation_id=cid,
            )
            cid = started.conversation_id  # several files: one conversation
            if not json_out:
                console.print(
                    f"[bold]{record['displayName']}[/] ({mode}) in {cid}", highlight=False
                )
            out.append(await render(started.events, json_out))
        return out

    responses = run_as(job, user, need_user=True)
    if not json_out:
        for response in responses:
            finish(response, False)
    return responses
