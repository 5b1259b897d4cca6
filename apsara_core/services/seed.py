"""`apsara db seed`: demo and benchmark data in the shapes the services write, written in bulk.

Users come from `new_user_doc`, conversations from the `Conversation` model, messages carry the
fields chat's user and model messages carry, and the usage history, the user totals and the
maintained counters (repos/tallies.py) agree with them, so every view reads seeded data as it
reads real data. Seeded users have no password (they set one by reset) and `seeded: true`.

On a fresh database (no users, conversations, messages or usage yet) the secondary indexes of
those collections are dropped first and built once the documents are in: with the messages'
three compound indexes in place the embedded server inserted 160-320 documents/s, against
375-640/s for inserting then building (10,000 messages, alternating trials, load 10-12). The
unique indexes are checked at that build; seeded documents never collide.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.db.client import Target, patient_client
from apsara_core.db.schema import ensure_schema
from apsara_core.errors import ConflictError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.models.documents import Conversation, ConversationStats, Message, MessageContent
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import messages as msg_repo
from apsara_core.repos import search_words, tallies
from apsara_core.repos import seed as repo
from apsara_core.repos.usage import day_id
from apsara_core.services.users import new_user_doc
from apsara_core.vocabulary import CHAT_MODELS, Plan

BATCH = 1000
Progress = Callable[[int, int], None]
WORDS = (
    "plan trip budget garden recipe python travel poem summary letter history physics "
    "music review notes invoice project river mountain market design story lesson"
).split()


@dataclass(frozen=True)
class SeedSize:
    """How much to write: users, conversations per user, messages per conversation, days."""

    users: int
    conversations_per_user: int = 2
    messages_per_conversation: int = 10
    days: int = 30

    def check(self) -> SeedSize:
        """Raises ValidationError naming the field outside its range."""
        for name, value, low, high in (
            ("users", self.users, 1, 10_000_000),
            ("conversationsPerUser", self.conversations_per_user, 0, 1000),
            ("messagesPerConversation", self.messages_per_conversation, 0, 10_000),
            ("days", self.days, 1, 3660),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(
                    f"{name} must be a whole number from {low} to {high}, got {value!r}",
                    field=name,
                )
        return self

    @property
    def documents(self) -> int:
        """Users + conversations + messages to write (the progress total)."""
        convs = self.users * self.conversations_per_user
        return self.users + convs + convs * self.messages_per_conversation


class SeedService:
    """Fills a database with realistic data (admins); refuses a database with real users."""

    def __init__(self, *, db: AsyncDatabase, clock: Clock, target: Target | None = None) -> None:
        self._db = db
        self._clock = clock
        self._target = target

    async def seed(
        self, *, actor: Principal, size: SeedSize, force: bool = False, progress: Progress | None
    ) -> dict[str, Any]:
        """Write `size` worth of data; `progress(done, total)` after every batch.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: a size outside its range.
            ConflictError: the database holds users not written by a seed, without `force`.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Only admins can seed the database")
        size.check()
        if not force and await repo.has_real_users(self._db):
            raise ConflictError(
                "This database holds real users: seeding would mix demo data into it",
                field="force",
                suggestions=["Seed an empty database, or pass --force to add to this one"],
            )
        fresh = await repo.is_fresh(self._db)
        if fresh:  # inserting first and building the indexes after is ~2x faster (measured)
            await repo.drop_secondary_indexes(self._db)
        writer = _Writer(self._db, size.documents, progress)
        run = _Run(size, self._clock.now(), random.Random(size.users))
        for user in run.users():
            await writer.add("users", user)
            for conv, messages in run.conversations(user):
                await writer.add("conversations", conv)
                for message in messages:
                    await writer.add("messages", message)
        await writer.flush()
        await repo.write_usage(self._db, run.usage_daily, run.user_totals(), now=run.now)
        await tallies.add_many(self._db, run.tallies)
        if fresh:
            await self._build_indexes()
        return {"written": dict(writer.written), "days": size.days, "seed": size.users}

    async def _build_indexes(self) -> None:
        """Create the dropped indexes through a client that waits for the busy server (each
        build blocks the embedded server for seconds to minutes)."""
        if self._target is None:
            await ensure_schema(self._db, now=self._clock.now(), force=True)
            return
        client = patient_client(self._target)
        try:
            await ensure_schema(client[self._db.name], now=self._clock.now(), force=True)
        finally:
            await client.close()


class _Writer:
    """Buffers documents per collection and writes them in unordered batches."""

    def __init__(self, db: AsyncDatabase, total: int, progress: Progress | None) -> None:
        self._db, self._total, self._progress = db, total, progress
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self.written: Counter[str] = Counter()

    async def add(self, collection: str, doc: dict[str, Any]) -> None:
        buffer = self._buffers.setdefault(collection, [])
        buffer.append(doc)
        if len(buffer) >= BATCH:
            await self._write(collection)

    async def flush(self) -> None:
        for collection in list(self._buffers):
            await self._write(collection)

    async def _write(self, collection: str) -> None:
        docs, self._buffers[collection] = self._buffers[collection], []
        if docs:
            await repo.insert_batch(self._db, collection, docs)
            self.written[collection] += len(docs)
            if self._progress is not None:
                self._progress(sum(self.written.values()), self._total)


class _Run:
    """The documents of one seed, generated lazily, and the totals they add up to."""

    def __init__(self, size: SeedSize, now: datetime, rng: random.Random) -> None:
        self.size, self.now, self.rng = size, now, rng
        self.usage_daily: dict[str, dict[str, Any]] = {}
        self.totals: dict[str, Counter[str]] = {}
        self.tallies: dict[str, Counter[str]] = {}
        self.stamp = now.strftime("%Y%m%d%H%M%S")

    def _when(self) -> datetime:
        """A moment within the last `days` UTC days, early enough for a whole conversation."""
        first = datetime.combine(self.now.date(), time(0), tzinfo=UTC) - timedelta(
            days=self.size.days - 1
        )
        last = self.now - timedelta(seconds=20 * (self.size.messages_per_conversation + 1))
        span = max((last - first).total_seconds(), 0)
        return (first + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def users(self) -> Iterator[dict[str, Any]]:
        for i in range(self.size.users):
            plan: Plan = "premium" if i % 5 == 0 else "free"
            google = i % 7 == 0
            doc = new_user_doc(
                email=f"seed{self.stamp}.{i}@example.test",
                full_name=f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}",
                password=None,
                now=self._when(),
                plan=plan,
                provider="google" if google else "local",
                verified=True,
                seeded=True,
                googleId=f"seed-{self.stamp}-{i}" if google else None,
            )
            doc["updatedAt"] = doc["createdAt"]
            doc[search_words.FIELD] = search_words.user_words(doc)
            for key in (
                tallies.user_key(doc),
                tallies.registration_key(doc["createdAt"].date().isoformat()),
            ):
                self._tally(key, "n", 1)
            yield doc

    def conversations(
        self, user: dict[str, Any]
    ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        for _ in range(self.size.conversations_per_user):
            start = max(self._when(), user["createdAt"])
            model = CHAT_MODELS[self.rng.random() < 0.2]
            messages = self._messages(user["_id"], start, model)
            tokens = sum(m["metadata"].get("tokens", {}).get("total", 0) for m in messages)
            last = messages[-1]["createdAt"] if messages else start
            conv = Conversation(
                conversationId=conv_repo.new_conversation_id(),
                userId=user["_id"],
                ownerEmail=None if user.get("isGuest") else user["email"],
                title=" ".join(self.rng.sample(WORDS, 3)).capitalize(),
                stats=ConversationStats(
                    messageSequence=len(messages),
                    totalMessages=len(messages),
                    totalTokens=tokens,
                    lastActivity=last,
                ),
                createdAt=start,
                updatedAt=last,
            ).to_mongo()
            conv["_id"] = conv["conversationId"]
            conv[search_words.FIELD] = search_words.words(conv["title"])
            for m in messages:
                m["conversationId"] = conv["conversationId"]
            self._tally(tallies.docs_key("conversations"), "n", 1)
            self._tally(tallies.docs_key("messages"), "n", len(messages))
            self._count(user["_id"], "totalConversations", 1)
            yield conv, messages

    def _messages(self, user_id: str, start: datetime, model: str) -> list[dict[str, Any]]:
        out = []
        for seq in range(1, self.size.messages_per_conversation + 1):
            at = start + timedelta(seconds=20 * seq)
            role: Literal["user", "model"] = "user" if seq % 2 else "model"
            text = " ".join(self.rng.choices(WORDS, k=self.rng.randint(6, 40)))
            metadata: dict[str, Any] = {"status": "complete", "timing": {"requestAt": at}}
            if role == "model":
                metadata = self._model_metadata(user_id, at, model)
            out.append(
                Message(
                    messageId=msg_repo.new_message_id(),
                    conversationId="",
                    userId=user_id,
                    messageSequence=seq,
                    role=role,
                    content=MessageContent(text=text.capitalize() + "."),
                    config={"model": model},
                    metadata=metadata,
                    createdAt=at,
                ).to_mongo()
            )
        return out

    def _model_metadata(self, user_id: str, at: datetime, model: str) -> dict[str, Any]:
        prompt, output = self.rng.randint(20, 400), self.rng.randint(20, 600)
        tokens = {"prompt": prompt, "output": output, "thoughts": 0, "total": prompt + output}
        first = self.rng.randint(300, 900)
        self._usage(user_id, at.date().isoformat(), model, tokens)
        return {
            "status": "complete",
            "timing": {"requestAt": at, "firstChunkMs": first, "totalMs": first + 800},
            "tokens": tokens,
            "provider": {"name": "google", "model": model},
            "finishReason": "STOP",
            "historyMessages": 0,
            "trimmedMessages": 0,
        }

    def _usage(self, user_id: str, day: str, model: str, tokens: dict[str, int]) -> None:
        doc = self.usage_daily.setdefault(
            day_id(user_id, day, model),
            {"userId": user_id, "date": day, "model": model, "committed": 0},
        )
        inc = {
            "committed": 1,
            "promptTokens": tokens["prompt"],
            "outputTokens": tokens["output"],
            "thoughtsTokens": 0,
            "totalTokens": tokens["total"],
        }
        for key, value in inc.items():
            doc[key] = doc.get(key, 0) + value
        for key, value in inc.items():
            self._tally(tallies.usage_key(day, model), key, value)
        self._count(user_id, "totalMessages", 1)
        for key in ("promptTokens", "outputTokens", "totalTokens"):
            self._count(user_id, key, inc[key])

    def _tally(self, key: str, field: str, n: int) -> None:
        self.tallies.setdefault(key, Counter())[field] += n

    def _count(self, user_id: str, key: str, n: int) -> None:
        self.totals.setdefault(user_id, Counter())[key] += n

    def user_totals(self) -> dict[str, dict[str, int]]:
        return {uid: dict(c) for uid, c in self.totals.items()}


FIRST = "Ada Alan Grace Linus Ken Barbara Edsger Frances Donald Margaret Radia Tim".split()
LAST = "Lovelace Turing Hopper Torvalds Thompson Liskov Dijkstra Allen Knuth Hamilton".split()
