"""Maintained word fields for text search (`searchWords` on users and conversations).

The embedded server answers a regular expression, even an anchored prefix, by scanning the
collection, while a bounded range on a secondary index costs ~2 ms. So every write that sets
a user's name or email, or a conversation's title, also stores the lower-cased words of that
text in `searchWords` (a multikey index), and a search reads the documents having a word that
starts with the search's longest word (`{"$gte": w, "$lt": w + "\\uffff"}`; nothing beside
it, or the server scans: measured), then keeps those
whose text holds the whole search, any case: the same answers as a substring search, for
every search that starts a word somewhere in the text ("bob the b", "builder"; not "uilder").
"""

from __future__ import annotations

import re
from typing import Any

FIELD = "searchWords"
MAX_WORDS = 64  # per document: a title or a name has far fewer
MAX_WORD = 64  # characters kept of a word (a longer search word is cut to match)
_WORD = re.compile(r"[^\W_]+")


def words(*texts: str | None) -> list[str]:
    """The distinct lower-cased words (letters and digits) of `texts`, in order."""
    out: dict[str, None] = {}
    for text in texts:
        for word in _WORD.findall((text or "").lower()):
            out.setdefault(word[:MAX_WORD], None)
    return list(out)[:MAX_WORDS]


def user_words(doc: dict[str, Any]) -> list[str]:
    """The search words of a user document (its email and full name)."""
    return words(doc.get("email"), doc.get("fullName"))


def key_word(search: str) -> str | None:
    """The word of `search` whose prefix range the index reads (the longest: the fewest
    candidates), or None when the search has no letter or digit (nothing can match)."""
    found = words(search)
    return max(found, key=len) if found else None


def prefix_range(word: str) -> dict[str, Any]:
    """The `searchWords` condition of documents having a word that starts with `word`."""
    return {FIELD: {"$gte": word, "$lt": word + "\uffff"}}


def holds(search: str, *texts: str | None) -> bool:
    """Whether one of `texts` contains `search`, any case (a literal, not a pattern)."""
    needle = search.strip().lower()
    return any(needle in (t or "").lower() for t in texts)


def matches(search: str, doc: dict[str, Any], *texts: str | None) -> bool:
    """What a search finds: a document with a word starting with the search's key word, one
    of whose `texts` holds the whole search (the same test whichever index was read)."""
    word = key_word(search)
    found = word is not None and any(w.startswith(word) for w in doc.get(FIELD) or ())
    return found and holds(search, *texts)


def server_query(search: str) -> dict[str, Any]:
    """The query read through the `searchWords` index: alone, since the embedded server
    answers any other condition beside it by scanning the collection (other filters are
    applied to the candidates); a search without a word reads a range that holds nothing."""
    return prefix_range(key_word(search) or "\uffff")
