"""Small files of each supported type, built byte by byte (real headers, valid structure).

Each sample starts with the magic bytes a real file of its type has, so type detection sees
what it would see on a real upload; the bodies are short and deterministic.
"""

from __future__ import annotations

import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG of width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """A JFIF header, a comment segment and the end marker."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    com = b"\xff\xfe" + struct.pack(">H", 10) + b"apsara!!"
    return b"\xff\xd8" + app0 + com + b"\xff\xd9"


def gif() -> bytes:
    """A 1x1 GIF89a."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00"
        b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    """A RIFF/WEBP container with a VP8L chunk."""
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 10) + b"\x2f\x00\x00\x00\x00" + b"\x00" * 5
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pdf(text: str = "Hello from a PDF") -> bytes:
    """A one-page PDF whose content stream shows `text`."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        + f"4 0 obj << /Length {len(stream)} >> stream\n".encode()
        + stream
        + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def wav(samples: int = 64) -> bytes:
    """A mono 8 kHz 16-bit PCM WAV of silence."""
    data = b"\x00\x00" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp3() -> bytes:
    """An ID3v2 tag followed by MPEG-1 layer III frame headers."""
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 3


def ogg() -> bytes:
    """An Ogg page header carrying a Vorbis identification header."""
    return b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 40


def flac() -> bytes:
    """The fLaC marker and a STREAMINFO block."""
    return b"fLaC\x80\x00\x00\x22" + b"\x00" * 34


def mp4() -> bytes:
    """An ISO base media file: ftyp (isom) then an empty mdat."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


def webm() -> bytes:
    """An EBML header declaring the webm doc type."""
    return (
        bytes.fromhex(
            "1a45dfa3a34286810142f7810142f2810442f381084282847765626d42878104428581021853806701"
        )
        + b"\x00" * 32
    )


def mov() -> bytes:
    """A QuickTime file: ftyp (qt) then an empty mdat."""
    ftyp = b"ftypqt  " + b"\x00\x00\x02\x00" + b"qt  "
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


def text(body: str = "plain notes\nsecond line\n") -> bytes:
    """UTF-8 text."""
    return body.encode()


def html() -> bytes:
    """An HTML page (refused: not a supported type)."""
    return b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"


# name -> (bytes, the MIME type detection must give)
SAMPLES: dict[str, tuple[bytes, str]] = {
    "image.png": (png(), "image/png"),
    "photo.jpg": (jpeg(), "image/jpeg"),
    "anim.gif": (gif(), "image/gif"),
    "pic.webp": (webp(), "image/webp"),
    "doc.pdf": (pdf(), "application/pdf"),
    "sound.wav": (wav(), "audio/wav"),
    "song.mp3": (mp3(), "audio/mpeg"),
    "voice.ogg": (ogg(), "audio/ogg"),
    "track.flac": (flac(), "audio/flac"),
    "clip.mp4": (mp4(), "video/mp4"),
    "clip.webm": (webm(), "video/webm"),
    "clip.mov": (mov(), "video/quicktime"),
    "notes.txt": (text(), "text/plain"),
    "readme.md": (text("# Title\n\nSome *markdown*.\n"), "text/markdown"),
    "table.csv": (text("a,b\n1,2\n"), "text/csv"),
    "data.json": (text('{"a": [1, 2, 3]}\n'), "application/json"),
    "script.py": (text("print('hello')\n"), "text/x-python"),
    "app.js": (text("console.log('hi');\n"), "text/javascript"),
    "types.ts": (text("let n: number = 1;\n"), "text/x-typescript"),
}
