"""`open_core(settings)` builds the `Core`: the one object every front end holds.

Services are created on first use so a front end pays only for what it touches. Each service
is built with the collaborators it needs (keyword arguments), and this module is the only one
that knows them all: no service imports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.db.client import Target, connect, is_embedded_server, resolve_target
from apsara_core.db.schema import ensure_schema

if TYPE_CHECKING:
    from apsara_core.plugins import PluginRegistry
    from apsara_core.providers.manager import ProviderManager
    from apsara_core.services.api_keys import ApiKeyService
    from apsara_core.services.audit import AuditService
    from apsara_core.services.auth import AuthService
    from apsara_core.services.chat import ChatService
    from apsara_core.services.conversations import ConversationService
    from apsara_core.services.dbinfo import DatabaseInfoService
    from apsara_core.services.file_analysis import FileAnalysisService
    from apsara_core.services.files import FileService
    from apsara_core.services.limits import LimitsService
    from apsara_core.services.mail import MailService
    from apsara_core.services.messages import MessageService
    from apsara_core.services.password_store import PasswordStore
    from apsara_core.services.plans import PlanService
    from apsara_core.services.plugin_jobs import JobQueue
    from apsara_core.services.plugin_worker import Worker
    from apsara_core.services.plugins import PluginService
    from apsara_core.services.provider_catalog import ProviderCatalog
    from apsara_core.services.request_limiter import RequestLimiter
    from apsara_core.services.seed import SeedService
    from apsara_core.services.sessions import SessionService
    from apsara_core.services.stats import StatsService
    from apsara_core.services.users import UserService

log = logging.getLogger(__name__)
BACKGROUND_GRACE_S = 20.0  # an SMTP send times out after 15 s
WARM_CONNECTIONS = 3  # a generate has at most three database commands in flight at once


@dataclass(eq=False)
class Core:
    """The library's façade: settings, database and the services built on them."""

    settings: Settings
    client: AsyncMongoClient
    db: AsyncDatabase
    target: Target
    schema_version: int
    clock: Clock = field(default_factory=Clock)
    extras: dict[str, Any] = field(default_factory=dict)
    sweep_ttl: bool = False  # the embedded server: TTL indexes are plain, db/expiry.py expires
    _background: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)
    _maintenance: asyncio.Task[None] | None = field(default=None, repr=False)

    @cached_property
    def passwords(self) -> PasswordStore:
        """Password hashing and checking (one hasher, so its check counts cover every path)."""
        from apsara_core.services.password_store import PasswordStore

        return PasswordStore(db=self.db, settings=self.settings, clock=self.clock)

    def defer(self, job: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run `job` after the current answer, so its time and failures never show in it
        (e.g. the lock notification mail: an SMTP failure must not change a login's answer).
        A failure is logged naming `what`; `close()` waits for pending jobs."""
        task = asyncio.get_running_loop().create_task(job)
        self._background.add(task)
        task.add_done_callback(lambda t: self._finished(t, what))
        return task

    def _finished(self, task: asyncio.Task[Any], what: str) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %s", what, task.exception())

    def start_maintenance(self) -> None:
        """Start this process's periodic database upkeep (long-running front ends: `apsara
        serve`, the app, `apsara worker`) until `close()`: services/upkeep.py (replies whose
        accounting was left pending; on the embedded server, the expiry of db/expiry.py, and
        when Apsara started it, its restart while idle: db/recycle.py)."""
        if self._maintenance is None:
            from apsara_core.db.recycle import Recycler
            from apsara_core.services import upkeep

            recycler = Recycler.from_settings(self.settings) if self.target.embedded else None
            self._maintenance = asyncio.get_running_loop().create_task(
                upkeep.run(self.db, self.limits, expire=self.sweep_ttl, recycler=recycler)
            )

    async def warm_up(self) -> None:
        """Load the AI providers and open their connections in the background, right after
        start (`apsara serve`, the app after its first frame), so the first message of a
        process costs what the tenth does. Failures are logged, never raised: without a key
        or network the first real call reports the problem."""
        providers = await asyncio.to_thread(lambda: self.providers)  # imports the SDKs
        await asyncio.to_thread(lambda: self.chat)  # and the chat, files and storage modules
        try:
            await self._warm_database()
        except Exception as exc:  # the first request reports a database problem properly
            log.debug("warming the database paths: %s", exc)
        for provider in providers.providers():
            warm = getattr(provider, "warm", None)
            if warm is None:
                continue
            try:
                await asyncio.wait_for(warm(), timeout=10)
            except Exception as exc:  # no key, no network, a 404 from a fake: not fatal here
                log.debug("warming provider %s: %s", provider.name, exc)

    async def _warm_database(self) -> None:
        """What a first generate would read or open: the plans and the declared providers
        (cached for a few seconds), and pooled connections for its concurrent commands
        (e.g. the reservation alongside the history read, the message store alongside the
        model call)."""
        await self.provider_catalog.sync()
        await self.plans.list()
        await asyncio.gather(*(self.db.command("ping") for _ in range(WARM_CONNECTIONS)))

    async def settle(self, timeout: float = BACKGROUND_GRACE_S) -> None:
        """Wait (at most `timeout` seconds) for the deferred jobs started so far."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    @cached_property
    def dbinfo(self) -> DatabaseInfoService:
        """Schema, counts and indexes (management action 11)."""
        from apsara_core.services.dbinfo import DatabaseInfoService

        return DatabaseInfoService(
            db=self.db,
            target=self.target,
            schema_version=self.schema_version,
            embedded_server=self.sweep_ttl,
        )

    @cached_property
    def seed(self) -> SeedService:
        """Demo and benchmark data (`apsara db seed`)."""
        from apsara_core.services.seed import SeedService

        return SeedService(db=self.db, clock=self.clock, target=self.target)

    # Accounts
    @cached_property
    def users(self) -> UserService:
        """Users: create, list, show, delete, plan, role, unlock (admin actions audited)."""
        from apsara_core.services.users import UserService

        return UserService(
            db=self.db,
            passwords=self.passwords,
            audit=self.audit,
            files=self.files,
            clock=self.clock,
        )

    @cached_property
    def auth(self) -> AuthService:
        """Registration, login, tokens, guests, Google sign-in, password reset."""
        from apsara_core.services.auth import AuthService

        return AuthService(
            db=self.db,
            settings=self.settings,
            passwords=self.passwords,
            mail=self.mail,
            limits=self.limits,
            clock=self.clock,
            defer=self.defer,
        )

    @cached_property
    def sessions(self) -> SessionService:
        """This machine's session file, sign-in/out, and who a command or screen acts as."""
        from apsara_core.services.sessions import SessionService

        return SessionService(data_dir=self.settings.data_dir, db=self.db, auth=self.auth)

    @cached_property
    def mail(self) -> MailService:
        """Outgoing mail: database outbox or SMTP."""
        from apsara_core.services.mail import MailService

        return MailService(db=self.db, settings=self.settings, clock=self.clock)

    @cached_property
    def audit(self) -> AuditService:
        """The audit trail of admin actions."""
        from apsara_core.services.audit import AuditService

        return AuditService(db=self.db, clock=self.clock)

    # Plans, quotas, statistics
    @cached_property
    def plans(self) -> PlanService:
        """Subscription plans as data."""
        from apsara_core.services.plans import PlanService

        return PlanService(
            db=self.db,
            audit=self.audit,
            clock=self.clock,
            provider_models=lambda: self.provider_catalog.model_ids(),
        )

    @cached_property
    def limits(self) -> LimitsService:
        """Quota reservations: reserve, refund, commit."""
        from apsara_core.services.limits import LimitsService

        return LimitsService(db=self.db, plans=self.plans, clock=self.clock)

    @cached_property
    def request_limiter(self) -> RequestLimiter:
        """Per-caller HTTP request limiter stored in the database."""
        from apsara_core.services.request_limiter import RequestLimiter

        return RequestLimiter(db=self.db, settings=self.settings, clock=self.clock)

    @cached_property
    def stats(self) -> StatsService:
        """Database and user statistics."""
        from apsara_core.services.stats import StatsService

        return StatsService(db=self.db, users=self.users, limits=self.limits, clock=self.clock)

    # Conversations and AI
    @cached_property
    def conversations(self) -> ConversationService:
        """Conversations and their messages."""
        from apsara_core.services.conversations import ConversationService

        return ConversationService(
            db=self.db, settings=self.settings, limits=self.limits, clock=self.clock
        )

    @cached_property
    def messages(self) -> MessageService:
        """Single messages: sibling versions, switching, deleting one, searching the text."""
        from apsara_core.services.messages import MessageService

        return MessageService(db=self.db, clock=self.clock)

    @cached_property
    def chat(self) -> ChatService:
        """Generate, stream, edit, regenerate, embed."""
        from apsara_core.services.chat import ChatService
        from apsara_core.services.chat_files import ChatFiles

        files = ChatFiles(db=self.db, files=self.files, clock=self.clock)
        return ChatService(
            db=self.db,
            settings=self.settings,
            limits=self.limits,
            providers=self.providers,
            catalog=self.provider_catalog,
            files=files,
            clock=self.clock,
            defer=self.defer,
        )

    @cached_property
    def file_analysis(self) -> FileAnalysisService:
        """Management action 19's analyses: describe, extract or ask about a stored file."""
        from apsara_core.services.file_analysis import FileAnalysisService

        return FileAnalysisService(
            files=self.files, conversations=self.conversations, chat=self.chat
        )

    @cached_property
    def api_keys(self) -> ApiKeyService:
        """Personal API keys (issue 14)."""
        from apsara_core.services.api_keys import ApiKeyService

        return ApiKeyService(db=self.db, clock=self.clock)

    @cached_property
    def providers(self) -> ProviderManager:
        """AI providers, picked by model name."""
        from apsara_core.providers.manager import ProviderManager

        return ProviderManager(settings=self.settings)

    @cached_property
    def provider_catalog(self) -> ProviderCatalog:
        """Declared provider instances (`apsara provider add`), registered in `providers`."""
        from apsara_core.services.provider_catalog import ProviderCatalog

        return ProviderCatalog(
            db=self.db,
            providers=self.providers,
            settings=self.settings,
            audit=self.audit,
            clock=self.clock,
        )

    # Files (issue 7)
    @cached_property
    def files(self) -> FileService:
        """Stored files: upload (local, S3, File API), list, delete, and their AI use."""
        from apsara_core.services.files import FileService
        from apsara_core.storage.setup import build_gemini_files, build_storage

        gemini = build_gemini_files(self.settings, lambda: self.providers.get("google").client())  # type: ignore[attr-defined]
        storage = build_storage(self.settings, gemini)
        return FileService(
            db=self.db,
            storage=storage,
            local=storage.get("local"),  # type: ignore[arg-type]
            gemini=gemini,
            plan_limits=lambda plan: self.plans.file_limits(plan=plan),
            clock=self.clock,
        )

    # Plugins (issue 12)
    @cached_property
    def plugin_registry(self) -> PluginRegistry:
        """Plugins from the `apsara.plugins` entry points (loaded once per process)."""
        from apsara_core.plugins import PluginRegistry

        return PluginRegistry()

    @cached_property
    def jobs(self) -> JobQueue:
        """Durable plugin jobs: enqueue, get, list, cancel, wait."""
        from apsara_core.services.plugin_jobs import JobQueue

        return JobQueue(db=self.db, clock=self.clock)

    @cached_property
    def plugins(self) -> PluginService:
        """Plugins: list, show, call (sync or as a job), run a job."""
        from apsara_core.services.plugins import PluginService

        return PluginService(
            db=self.db,
            registry=self.plugin_registry,
            chat=self.chat,
            conversations=self.conversations,
            providers=self.providers,
            jobs=self.jobs,
            clock=self.clock,
        )

    def worker(self, *, concurrency: int | None = None, **options: Any) -> Worker:
        """A job Worker over this core (settings give concurrency, lease and poll interval)."""
        from apsara_core.services.plugin_worker import Worker

        return Worker(
            db=self.db,
            run_job=self.plugins.run_job,
            clock=self.clock,
            concurrency=concurrency or self.settings.worker_concurrency,
            lease_s=options.pop("lease_s", self.settings.job_lease_s),
            poll_s=options.pop("poll_s", self.settings.job_poll_s),
            **options,
        )

    async def close(self) -> None:
        """Stop the upkeep, finish deferred jobs, close the providers' SDK clients, then the
        database client."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        await self.settle()
        if "providers" in self.__dict__:  # built (cached_property): close its HTTP pools
            await self.providers.aclose()
        await self.client.close()


async def open_core(settings: Settings | None = None, *, clock: Clock | None = None) -> Core:
    """Connect to the database (starting the embedded server when needed) and prepare it.

    `clock` is the source of "now" for every service (a new system clock by default).

    Raises:
        ConfigError: an invalid setting.
        DatabaseUnavailableError: the database cannot be reached or started.
    """
    settings = settings or Settings.load()
    clock = clock or Clock()
    settings.jwt_keys()  # fail at start, not at first login, on a short secret or pepper
    settings.pepper_key()
    target = await asyncio.to_thread(resolve_target, settings)  # may start the server
    client, db = await connect(target)
    try:
        sweep_ttl = target.embedded or is_embedded_server(await client.admin.command("buildInfo"))
        version = await ensure_schema(db, now=clock.now(), sweep_ttl=sweep_ttl)
        from apsara_core.services.password_store import check_pepper

        await check_pepper(db, settings)
    except BaseException:
        await client.close()
        raise
    return Core(
        settings=settings,
        client=client,
        db=db,
        target=target,
        schema_version=version,
        clock=clock,
        sweep_ttl=sweep_ttl,
    )
