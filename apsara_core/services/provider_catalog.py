"""Declared provider instances: added, listed, tested and removed by admins (audited).

Instances live in `provider_instances` (never their keys: only the variable or file naming
where the key is). Every process registers them in its ProviderManager through `sync`, which
reads them at most every `cache_seconds` (like plans): a change made here is visible at once,
in other processes within `cache_seconds`. Models are addressed as `NAME/MODEL`.
"""

from __future__ import annotations

import builtins
import re
import time
from typing import Any
from urllib.parse import urlparse

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import (
    ApsaraError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.providers.base import GenerationOptions, ProviderRequest, Turn, accumulate
from apsara_core.providers.instances import DEFAULT_CONTEXT_WINDOW, InstanceConfig, ModelSpec
from apsara_core.providers.manager import ProviderManager
from apsara_core.repos import provider_instances as repo
from apsara_core.services.audit import AuditService
from apsara_core.vocabulary import BUILTIN_PROVIDER, PROVIDER_KINDS

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
FLAGS = ("thinks", "embedding")
TEST_PROMPT = "Reply with the single word OK."


def parse_model(value: Any, i: int) -> ModelSpec:
    """A model spec from `MODEL[,window=N][,thinks][,embedding]` or {name, contextWindow,
    thinks, embedding}.

    Raises:
        ValidationError: naming models[i] and the expected form.
    """
    field = f"models[{i}]"
    if isinstance(value, dict):
        value = ",".join(
            [str(value.get("name", ""))]
            + ([f"window={value['contextWindow']}"] if value.get("contextWindow") else [])
            + [f for f in FLAGS if value.get(f)]
        )
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string like llama3.2,window=131072", field=field)
    name, *opts = [p.strip() for p in value.split(",")]
    if not MODEL.match(name):
        raise ValidationError(
            f"{field}: {name!r} is not a model id (letters, digits and ._:/@+-)", field=field
        )
    window, flags = DEFAULT_CONTEXT_WINDOW, set()
    for opt in opts:
        key, _, num = opt.partition("=")
        if key == "window":
            if not (num.isdigit() and 1024 <= int(num) <= 100_000_000):
                raise ValidationError(
                    f"{field}: window must be a whole number of tokens from 1024 to "
                    f"100000000; got {num!r}",
                    field=field,
                )
            window = int(num)
        elif opt in FLAGS:
            flags.add(opt)
        else:
            raise ValidationError(
                f"{field}: unknown option {opt!r}; expected window=N (1024 or more), thinks "
                "or embedding",
                field=field,
            )
    return ModelSpec(name, window, "thinks" in flags, "embedding" in flags)


MAX_URL = 2048


def _check_url(base_url: Any) -> str | None:
    """An http(s) base URL with a host, a valid port, no spaces or control characters, and
    no credentials in it (a key goes in --api-key-env or --api-key-file, never stored)."""
    if base_url is None or base_url == "":
        return None
    expected = "an http:// or https:// URL with a host"
    if not isinstance(base_url, str):
        raise ValidationError(f"baseUrl must be {expected}", field="baseUrl")
    if len(base_url) > MAX_URL:
        raise ValidationError(
            f"baseUrl must be at most {MAX_URL} characters; got {len(base_url)}", field="baseUrl"
        )
    parsed = urlparse(base_url)
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or any(c.isspace() or not c.isprintable() for c in base_url)
    ):
        raise ValidationError(f"baseUrl must be {expected}; got {base_url!r}", field="baseUrl")
    try:
        port = parsed.port  # None when absent; raises when out of range or not a number
    except ValueError:
        port = 0
    if port == 0:
        raise ValidationError(
            f"baseUrl has no valid port (1-65535); got {base_url!r}", field="baseUrl"
        )
    if parsed.username is not None or parsed.password is not None:
        raise ValidationError(
            "baseUrl must not hold credentials (user:password@): they would be stored and listed",
            field="baseUrl",
            suggestions=["Give the key with --api-key-env VAR or --api-key-file PATH"],
        )
    return base_url.rstrip("/")


def check_instance(
    *, name: Any, kind: Any, base_url: Any, api_key_env: Any, api_key_file: Any, models: Any
) -> InstanceConfig:
    """A validated instance declaration.

    Raises:
        ValidationError: naming the field and what was expected.
    """
    if not isinstance(name, str) or not NAME.match(name) or name == BUILTIN_PROVIDER:
        raise ValidationError(
            f"name must be 1-32 lowercase letters, digits, - or _ (not {BUILTIN_PROVIDER!r}, "
            f"the built-in Gemini provider); got {name!r}",
            field="name",
        )
    if kind not in PROVIDER_KINDS:
        raise ValidationError(
            f"kind must be one of {', '.join(PROVIDER_KINDS)}; got {kind!r}", field="kind"
        )
    if api_key_env is not None and (
        not isinstance(api_key_env, str) or not ENV_NAME.match(api_key_env)
    ):
        raise ValidationError(
            f"apiKeyEnv must be an environment variable name (the key itself is never stored); "
            f"got {api_key_env!r}",
            field="apiKeyEnv",
        )
    if api_key_file is not None and (
        not isinstance(api_key_file, str) or not api_key_file.startswith("/")
    ):
        raise ValidationError("apiKeyFile must be an absolute path", field="apiKeyFile")
    if kind == "anthropic" and not (api_key_env or api_key_file):
        raise ValidationError("An anthropic instance needs --api-key-env VAR", field="apiKeyEnv")
    if not isinstance(models, list) or not models:
        raise ValidationError("Give at least one --model MODEL", field="models")
    specs = tuple(parse_model(m, i) for i, m in enumerate(models))
    if len({s.name for s in specs}) != len(specs):
        raise ValidationError("models must not repeat a model id", field="models")
    if kind == "anthropic" and any(s.embedding for s in specs):
        raise ValidationError("Anthropic has no embedding models", field="models")
    return InstanceConfig(name, kind, _check_url(base_url), api_key_env, api_key_file, specs)


def public(config: InstanceConfig) -> dict[str, Any]:
    """An instance as listed (where the key comes from, never the key)."""
    return {**config.to_doc(), "modelIds": config.model_ids()}


class ProviderCatalog:
    """Declared instances, registered in the ProviderManager of this process."""

    cache_seconds = 5.0

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        providers: ProviderManager,
        settings: Settings,
        audit: AuditService,
        clock: Clock,
    ) -> None:
        self._db = db
        self._providers = providers
        self._settings = settings
        self._audit = audit
        self._clock = clock
        self._configs: builtins.list[InstanceConfig] | None = None
        self._loaded_at = 0.0

    async def sync(self) -> builtins.list[InstanceConfig]:
        """Register the declared instances (read at most every `cache_seconds`)."""
        if self._configs is None or time.monotonic() - self._loaded_at >= self.cache_seconds:
            docs = await repo.all_instances(self._db)
            self._configs = [InstanceConfig.from_doc(d) for d in docs]
            self._loaded_at = time.monotonic()
            self._providers.set_instances(self._configs)
        return self._configs

    def invalidate(self) -> None:
        """Forget the cached declarations; the next `sync` reads them."""
        self._configs = None

    async def list(self, *, actor: Principal | None = None) -> builtins.list[dict[str, Any]]:
        """Every declared instance with its kind, base URL, key source and models."""
        return [public(c) for c in await self.sync()]

    async def model_ids(self) -> builtins.list[str]:
        """Every routed model id of the declared instances (generation and embedding)."""
        await self.sync()
        return [*self._providers.known_models(), *self._providers.known_embedding_models()]

    async def models(self) -> builtins.list[dict[str, Any]]:
        """Every generation model of every provider: {id, provider, kind, thinks}."""
        await self.sync()
        out = []
        for provider in self._providers.providers():
            kind = getattr(provider, "kind", provider.name)
            for model in provider.models():
                out.append(
                    {
                        "id": model,
                        "provider": provider.name,
                        "kind": kind,
                        "thinks": provider.thinks(model),
                    }
                )
        return out

    async def allowed_models(self, *, limits: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        """The generation models of every provider that `limits` (a plan's model table)
        gives a limit."""
        return [
            m
            for m in await self.models()
            if any(v is not None for v in (limits.get(m["id"]) or {}).values())
        ]

    async def add(self, *, actor: Principal, **fields: Any) -> dict[str, Any]:
        """Declare an instance (admins; audited).

        Raises:
            PermissionDeniedError: not an admin.
            ValidationError: a bad field (named).
            ConflictError: the name is taken.
        """
        _admin(actor)
        config = check_instance(**fields)
        doc = {**config.to_doc(), "createdAt": self._clock.now(), "createdBy": actor.user_id}

        async def work(session: Any) -> None:
            await repo.insert(self._db, doc, session=session)
            await self._audit.record(
                actor=actor,
                action="provider.add",
                target_id=f"provider:{config.name}",
                before=None,
                after=config.to_doc(),
                session=session,
            )

        try:
            await run_in_transaction(self._db, work)
        except DuplicateKeyError:
            raise ConflictError(
                f"A provider named {config.name!r} exists already",
                field="name",
                suggestions=[f"apsara provider remove {config.name} first, or pick another name"],
            ) from None
        self.invalidate()
        return public(config)

    async def remove(self, *, actor: Principal, name: Any) -> dict[str, Any]:
        """Remove an instance (admins; audited); its models are refused from then on.

        Raises:
            PermissionDeniedError: not an admin.
            NotFoundError: no such instance.
        """
        _admin(actor)
        removed: dict[str, Any] = {}

        async def work(session: Any) -> None:
            doc = await repo.delete(self._db, str(name), session=session)
            if doc is None:
                raise NotFoundError(f"No provider named {name!r}", field="name")
            removed.update(doc)
            await self._audit.record(
                actor=actor,
                action="provider.remove",
                target_id=f"provider:{name}",
                before={k: v for k, v in doc.items() if k != "createdAt"},
                after=None,
                session=session,
            )

        await run_in_transaction(self._db, work)
        self.invalidate()
        await self.sync()
        return public(InstanceConfig.from_doc(removed))

    async def test(self, *, actor: Principal, name: Any, model: Any = None) -> dict[str, Any]:
        """Send one tiny request to an instance: {ok, latencyMs, model, text} or {ok: False,
        error: {code, message}} with the provider's exact error.

        Raises:
            PermissionDeniedError: not an admin.
            NotFoundError: no such instance.
            ValidationError: `model` is not one of the instance's models.
        """
        _admin(actor)
        config = next((c for c in await self.sync() if c.name == name), None)
        if config is None:
            raise NotFoundError(f"No provider named {name!r}", field="name")
        provider = self._providers.get(config.name)
        choices = provider.models()
        model = model or (choices[0] if choices else None)
        if model not in choices:
            raise ValidationError(f"model must be one of {', '.join(choices)}", field="model")
        request = ProviderRequest(
            model=model,
            turns=[Turn("user", TEST_PROMPT)],
            options=GenerationOptions(max_output_tokens=16),
        )
        started = time.perf_counter()
        try:
            provider.check_ready()
            result = await accumulate(provider.stream(request))
        except ApsaraError as exc:
            return {
                "ok": False,
                "provider": config.name,
                "model": model,
                "error": {"code": exc.code, "message": exc.message},
            }
        latency = round((time.perf_counter() - started) * 1000, 1)
        return {
            "ok": True,
            "provider": config.name,
            "model": model,
            "latencyMs": latency,
            "text": result.text,
            "usage": result.usage.to_metadata(),
        }


def _admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("Only admins can manage AI providers", field="provider")
