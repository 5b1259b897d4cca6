"""Mail: the database outbox by default, SMTP (smtplib against aiosmtpd) when configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port
from apsara_core.errors import ConfigError, ValidationError
from apsara_core.services.mail import MailDeliveryError, SmtpTarget
from apsara_core.services.sessions import OPERATOR
from tests.factories import STRONG_PASSWORD


class Inbox:
    """aiosmtpd handler keeping every received message."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.messages.append(
            {
                "to": envelope.rcpt_tos,
                "from": envelope.mail_from,
                "message": message_from_bytes(envelope.content),
            }
        )
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == ("mailer", "s3cret/pw"))


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def smtp_core(settings: Settings, smtp) -> AsyncIterator[Core]:
    _, port = smtp
    opened = await open_core(
        settings.model_copy(
            update={
                "email_smtp_url": SecretStr(f"smtp://mailer:s3cret%2Fpw@127.0.0.1:{port}"),
                "email_from": "apsara@example.com",
            }
        )
    )
    try:
        yield opened
    finally:
        await opened.client.drop_database(opened.db.name)
        await opened.close()


async def test_outbox_is_the_default_newest_first_and_filtered(core: Core) -> None:
    assert core.mail.backend == "outbox"
    for i in range(3):
        await core.mail.send(to="a@example.com", subject=f"s{i}", body=f"b{i}")
    await core.mail.send(to="b@example.com", subject="other", body="x")
    mails = await core.mail.outbox(actor=OPERATOR, to="A@example.com")
    assert [m["subject"] for m in mails] == ["s2", "s1", "s0"]
    assert mails[0]["from"] == "noreply@apsara.local" and mails[0]["createdAt"].tzinfo
    assert len(await core.mail.outbox(actor=OPERATOR, limit=2)) == 2
    with pytest.raises(ValidationError):
        await core.mail.outbox(actor=OPERATOR, limit=0)


async def test_registration_code_arrives_over_smtp(smtp_core: Core, smtp) -> None:
    inbox, _ = smtp
    assert smtp_core.mail.backend == "smtp"
    await smtp_core.auth.register(
        full_name="Mail User", email="mu@example.com", password=STRONG_PASSWORD, accept_terms=True
    )
    assert len(inbox.messages) == 1
    got = inbox.messages[0]
    assert got["to"] == ["mu@example.com"] and got["from"] == "apsara@example.com"
    assert inbox.logins == [("mailer", "s3cret/pw")]
    body = got["message"].get_payload(decode=True).decode()
    import re

    code = re.search(r"\b(\d{6})\b", body).group(1)
    assert code in got["message"]["Subject"]
    assert await smtp_core.db.mail_outbox.count_documents({}) == 0  # nothing kept in the db
    await smtp_core.auth.verify_email(email="mu@example.com", otp=code)


async def test_unreachable_smtp_is_a_clear_error_without_the_password(settings: Settings) -> None:
    port = free_port()
    opened = await open_core(
        settings.model_copy(
            update={"email_smtp_url": SecretStr(f"smtp://u:topsecretpw@127.0.0.1:{port}")}
        )
    )
    try:
        with pytest.raises(MailDeliveryError) as exc:
            await opened.mail.send(to="a@example.com", subject="s", body="b")
    finally:
        await opened.close()
    assert f"127.0.0.1:{port}" in exc.value.message
    assert "topsecretpw" not in exc.value.message + exc.value.details


def test_smtp_url_parsing() -> None:
    plain = SmtpTarget.parse("smtp://user%40x:p%40ss@mail.example.com")
    assert (plain.host, plain.port, plain.implicit_tls) == ("mail.example.com", 587, False)
    assert (plain.username, plain.password) == ("user@x", "p@ss")
    tls = SmtpTarget.parse("smtps://mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.username) == (465, True, None)
    for bad in ("http://mail.example.com", "smtp://", "mail.example.com:25"):
        with pytest.raises(ConfigError) as exc:
            SmtpTarget.parse(bad)
        assert exc.value.field == "EMAIL_SMTP_URL"


def _tls_files(tmp_path) -> tuple[str, str, str]:
    """A test CA and a server certificate for 127.0.0.1 signed by it (PEM paths)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apsara Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = [tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tuple(str(p) for p in paths)  # type: ignore[return-value]


class TlsInbox(Inbox):
    """Also records whether each message arrived over TLS."""

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.tls = server.transport.get_extra_info("ssl_object") is not None
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_starttls_and_implicit_tls(settings: Settings, tmp_path, monkeypatch, scheme) -> None:
    import ssl

    ca, cert, key = _tls_files(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", ca)  # the client trusts the test CA like a system CA
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox, port = TlsInbox(), free_port()
    tls_kwargs = (
        {"tls_context": server_ctx, "require_starttls": True}
        if scheme == "smtp"
        # aiosmtpd does not count implicit TLS for AUTH, so allow it explicitly
        else {"ssl_context": server_ctx, "auth_require_tls": False}
    )
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, **tls_kwargs
    )
    controller.start()
    opened = await open_core(
        settings.model_copy(
            update={"email_smtp_url": SecretStr(f"{scheme}://mailer:s3cret%2Fpw@127.0.0.1:{port}")}
        )
    )
    try:
        await opened.mail.send(to="tls@example.com", subject="over tls", body="hello")
    finally:
        await opened.close()
        controller.stop()
    assert inbox.tls is True and inbox.logins == [("mailer", "s3cret/pw")]
    assert inbox.messages[0]["message"]["Subject"] == "over tls"
