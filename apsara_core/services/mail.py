"""Outgoing mail: the database outbox (default) or SMTP from EMAIL_SMTP_URL.

`smtp://user:pass@host:587` uses STARTTLS whenever the server offers it; `smtps://host:465`
is TLS from the first byte. smtplib is blocking, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.errors import ApsaraError, ConfigError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import mail as mail_repo

SMTP_TIMEOUT = 15.0


class MailDeliveryError(ApsaraError):
    """The SMTP server could not be reached or refused the mail."""

    http_status, code, title = 503, "MAIL_DELIVERY_FAILED", "Mail could not be sent"


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: host, port, implicit TLS, credentials."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """Read `smtp://[user:pass@]host[:port]` or `smtps://...`.

        Raises:
            ConfigError: naming EMAIL_SMTP_URL (never its password).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                "EMAIL_SMTP_URL must look like smtp://user:pass@host:587 "
                "or smtps://user:pass@host:465",
                field="EMAIL_SMTP_URL",
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise ConfigError(
                "EMAIL_SMTP_URL has an invalid port", field="EMAIL_SMTP_URL"
            ) from None
        return cls(
            parts.hostname,
            port,
            parts.scheme == "smtps",
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )

    def send(self, message: EmailMessage) -> None:
        """Deliver one message (blocking)."""
        context = ssl.create_default_context()
        if self.implicit_tls:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        with server:
            server.ehlo()
            if not self.implicit_tls and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if self.username:
                server.login(self.username, self.password or "")
            server.send_message(message)


class MailService:
    """Sends mail through the configured backend; reads the outbox."""

    def __init__(self, *, db: AsyncDatabase, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    @property
    def backend(self) -> str:
        """ "smtp" when EMAIL_SMTP_URL is set, else "outbox"."""
        return "smtp" if self._settings.email_smtp_url else "outbox"

    async def send(self, *, to: str, subject: str, body: str) -> None:
        """Send one plain-text mail.

        Raises:
            MailDeliveryError: the SMTP server failed (the message says which host).
        """
        sender = self._settings.email_from
        smtp_url = self._settings.email_smtp_url
        if smtp_url is None:
            await mail_repo.add(
                self._db,
                {
                    "_id": str(ObjectId()),
                    "to": to,
                    "from": sender,
                    "subject": subject,
                    "body": body,
                    "createdAt": self._clock.now(),
                },
            )
            return
        target = SmtpTarget.parse(smtp_url.get_secret_value())
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message.set_content(body)
        try:
            await asyncio.to_thread(target.send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeliveryError(
                f"Could not send mail through {target.host}:{target.port}: {type(exc).__name__}",
                suggestions=["Check EMAIL_SMTP_URL, or unset it to keep mails in the outbox"],
            ) from None

    async def outbox(
        self, *, actor: Principal, to: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """The newest mails kept in the database (codes included), newest first. It holds
        everyone's one-time codes: admins read all of it, anyone else only the mails to their
        own address.

        Raises:
            PermissionDeniedError: a non-admin asked for another address's mail.
            ValidationError: limit outside 1..500.
        """
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise ValidationError("limit must be between 1 and 500", field="limit")
        address = to.strip().lower() if isinstance(to, str) and to.strip() else None
        if not actor.is_admin:
            own = (actor.email or "").lower()
            if address not in (None, own) or not own:
                raise PermissionDeniedError(
                    "Only admins can read other addresses' mail: the outbox holds everyone's codes",
                    field="to",
                    suggestions=["Log out (`apsara auth logout`) or pass --operator"],
                )
            address = own
        return await mail_repo.latest(self._db, to=address, limit=limit, now=self._clock.now())
