"""Management action 19: ask the model about an uploaded file (describe, extract, ask).

Each analysis is an ordinary metered chat message with the file attached, in a conversation
(a new one titled after the file, or the one given), so follow-up questions simply continue
that conversation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apsara_core.errors import ValidationError
from apsara_core.models import Principal
from apsara_core.services.chat import ChatEvent
from apsara_core.vocabulary import DEFAULT_MODEL, TITLE_MAX_LENGTH

if TYPE_CHECKING:
    from apsara_core.services.chat import ChatService
    from apsara_core.services.conversations import ConversationService
    from apsara_core.services.files import FileService

MODES = ("describe", "extract", "ask")
PROMPTS = {
    "describe": "Analyze this file and describe its content in detail: what it is, what it "
    "shows or says, and anything notable.",
    "extract": "Extract all of the text in this file: OCR for an image, a transcription for "
    "audio or video, the text of a document. Reply with the text only.",
}


@dataclass
class Analysis:
    """A started analysis: where it is stored, what was asked, and the reply's events."""

    conversation_id: str
    prompt: str
    events: AsyncGenerator[ChatEvent, None]


def prompt_for(mode: Any, question: Any) -> str:
    """The message an analysis sends.

    Raises:
        ValidationError: an unknown mode, or `ask` without a question.
    """
    if mode not in MODES:
        raise ValidationError(f"analysis must be one of {', '.join(MODES)}", field="analysis")
    if mode == "ask":
        if not isinstance(question, str) or not question.strip():
            raise ValidationError("ask needs a question", field="question")
        return question.strip()
    return PROMPTS[mode]


class FileAnalysisService:
    """Starts analyses: the file's record, a conversation, and the chat's metered stream."""

    def __init__(
        self, *, files: FileService, conversations: ConversationService, chat: ChatService
    ) -> None:
        self._files = files
        self._conversations = conversations
        self._chat = chat

    async def start(
        self,
        *,
        actor: Principal,
        file_id: Any,
        mode: Any,
        question: Any = None,
        conversation_id: Any = None,
        model: Any = DEFAULT_MODEL,
        config: Any = None,
    ) -> Analysis:
        """Begin an analysis of one of the actor's files (nothing is stored on bad input).

        Raises:
            ValidationError: bad mode or question.
            NotFoundError: unknown or another user's file or conversation.
        """
        text = prompt_for(mode, question)
        record = await self._files.show(actor=actor, file_id=file_id)
        if conversation_id is None:
            title = f"Analysis: {record['displayName']}"[:TITLE_MAX_LENGTH]
            conv = await self._conversations.create(actor=actor, title=title)
            conversation_id = conv["conversationId"]
        events = self._chat.stream(
            actor=actor,
            conversation_id=conversation_id,
            text=text,
            model=model,
            config=config,
            files=[record["fileId"]],
        )
        return Analysis(conversation_id, text, events)
