"""Document ids in URLs: `<doc_id:...>` in a route, and the links the pages build to it.

An id is any string: a file's path in the corpus folder, a .jsonl record's id, an id given to
PUT. A link percent-encodes each "/"-separated segment; when a segment is empty, "." or "..",
which browsers and HTTP clients resolve or merge ("/documents/../x" is fetched as "/x"), every
"/" is encoded too (%2F), so that the id travels as one segment. The server hands the app the
decoded path, so both spellings reach the same document. (An id that is all "." or ".." has
no link that survives a browser.)"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.routing import PathConverter

SAFE = "!$&'()*+,:;=@"  # what a URL path segment may hold as is (Werkzeug's set, without "/")
RESOLVED = {"", ".", ".."}  # segments that clients merge or resolve away


def id_path(doc_id: str) -> str:
    """`doc_id` as the rest of a URL path (search.js has the same rule)."""
    segments = doc_id.split("/")
    slash = "%2F" if len(segments) > 1 and RESOLVED.intersection(segments) else "/"
    return slash.join(quote(segment, safe=SAFE) for segment in segments)


def has_resolved_segments(doc_id: str) -> bool:
    """True for an id that clients would change in a URL: "../x", "a/./b", "a//b", "/a", "a/"."""
    return bool(RESOLVED.intersection(doc_id.split("/")))


class DocumentIdConverter(PathConverter):
    """Matches any id, also one that starts with "/" or holds "//" (the path converter refuses
    the first and merges the second); builds links with `id_path`."""

    regex = ".+"
    part_isolating = False  # the id may span "/"s (Werkzeug would guess True from the regex)

    def to_url(self, value: str) -> str:
        return id_path(value)
