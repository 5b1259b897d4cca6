"""The original README's curl examples, with the token header added, run with the real curl
against a real `apsara serve` (talking to the fake Gemini). README.md shows the same calls."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.http.served import Served

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea73581e40000000049454e44ae426082"
)
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def curl(url: str, *args: str, cwd: Path | None = None) -> tuple[int, dict]:
    """Run curl; (status, JSON body)."""
    out = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args, url],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        timeout=60,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body)


def test_the_original_curl_examples(live: Served, live_uri: str, tmp_path: Path) -> None:
    served, uri = live, live_uri
    base, js = served.url, ("-H", "Content-Type: application/json")
    # Guest: 1. session, 2. conversation, 3. message
    status, guest = curl(f"{base}/api/users/guest-login", "-X", "POST", *js, "-d", "{}")
    assert status == 201, guest
    auth = ("-H", f"Authorization: Bearer {guest['token']}")
    body = {
        "userId": guest["user"]["_id"] if "_id" in guest["user"] else guest["user"]["id"],
        "title": "Quick Test",
        "systemInstruction": "You are a helpful assistant.",
    }
    status, conv = curl(
        f"{base}/api/conversations", "-X", "POST", *js, *auth, "-d", json.dumps(body)
    )
    assert status == 201, conv
    message = {
        "userId": body["userId"],
        "conversationId": conv["conversationId"],
        "contents": "Hello! Explain AI in simple terms.",
        "model": "gemini-2.5-flash",
    }
    status, reply = curl(
        f"{base}/api/ai/generate", "-X", "POST", *js, *auth, "-d", json.dumps(message)
    )
    assert status == 200 and reply["text"], reply
    # Registered user: register, verify, login
    john = {
        "fullName": "John Doe",
        "email": "john@example.com",
        "password": "securepass123",
        "acceptTerms": True,
    }
    status, _ = curl(f"{base}/api/users/register", "-X", "POST", *js, "-d", json.dumps(john))
    assert status == 201
    with MongoClient(uri) as client:
        mail = client.get_default_database().mail_outbox.find_one(
            {"to": "john@example.com"}, sort=[("_id", -1)]
        )
    otp = re.search(r"\b(\d{6})\b", mail["body"]).group(1)
    status, _ = curl(
        f"{base}/api/users/verify-email",
        "-X",
        "POST",
        *js,
        "-d",
        json.dumps({"email": "john@example.com", "otp": otp}),
    )
    assert status == 200
    status, session = curl(
        f"{base}/api/users/login",
        "-X",
        "POST",
        *js,
        "-d",
        json.dumps({"email": john["email"], "password": john["password"]}),
    )
    assert status == 200 and session["token"]
    auth = ("-H", f"Authorization: Bearer {session['token']}")
    # Google sign-in: this server has no GOOGLE_CLIENT_ID, and says so (never the client's fault)
    status, google = curl(
        f"{base}/api/users/google-auth",
        "-X",
        "POST",
        *js,
        "-d",
        json.dumps(
            {"idToken": "google_id_token_here", "email": "user@gmail.com", "name": "Google User"}
        ),
    )
    assert status == 503 and google["code"] == "GOOGLE_SIGNIN_NOT_CONFIGURED"
    # Files: upload locally, then generate with it (and with config and thoughts)
    (tmp_path / "image.png").write_bytes(PNG)
    status, up = curl(
        f"{base}/api/files/upload",
        "-X",
        "POST",
        *auth,
        "-H",
        "Content-Type: multipart/form-data",
        "-F",
        "files=@image.png",
        "-F",
        "storageMethod=local",
        "-F",
        "displayName=My Image",
        cwd=tmp_path,
    )
    assert status == 201, up
    status, conv = curl(
        f"{base}/api/conversations", "-X", "POST", *js, *auth, "-d", json.dumps({"title": "Files"})
    )
    analyse = {
        "conversationId": conv["conversationId"],
        "contents": "Analyze this image and explain what you see",
        "files": [up["files"][0]["fileId"]],
        "model": "gemini-2.5-flash",
        "config": {
            "temperature": 0.7,
            "maxOutputTokens": 2048,
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2000},
        },
    }
    status, reply = curl(
        f"{base}/api/ai/generate", "-X", "POST", *js, *auth, "-d", json.dumps(analyse)
    )
    assert status == 200 and reply["modelMetadata"]["filesProcessed"] == 1, reply
    # Streaming the same call: -N and "stream": true
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-N",
            "-X",
            "POST",
            *js,
            *auth,
            "-d",
            json.dumps(
                {"conversationId": conv["conversationId"], "contents": "Hi", "stream": True}
            ),
            f"{base}/api/ai/generate",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    kinds = [json.loads(x[6:])["type"] for x in out.splitlines() if x.startswith("data: ")]
    assert kinds[0] == "started" and kinds[-1] == "done"
