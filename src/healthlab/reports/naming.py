"""Safe, unique and stable file names for per-client report files.

A client name can contain anything: markup, quotes, path separators, Greek,
Japanese or emoji. Report files are named ``<slug>-<id>``: the slug is the name
folded to lower-case ASCII letters, digits and hyphens (letters without an ASCII
form are dropped), and the client id keeps names unique. The same client always
gets the same name, whatever other clients are in the batch.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping

from healthlab.errors import ReportError

MAX_SLUG_LENGTH = 40
_UNSAFE_RUN = re.compile(r"[^a-z0-9]+")
_MARKUP_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_SAFE_ID = re.compile(r"[A-Za-z0-9_]{1,40}")


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Fold text to lower-case ASCII letters, digits and single hyphens.

    Markup tags such as ``<b>`` are removed, accents are removed (``Café``
    becomes ``cafe``), and characters without an ASCII form, such as Greek,
    Japanese or emoji, are dropped. The result is
    cut to ``max_length`` characters at a hyphen where possible, and may be
    empty.
    """
    decomposed = unicodedata.normalize("NFKD", _MARKUP_TAG.sub(" ", text))
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    slug = _UNSAFE_RUN.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug


def _id_part(client_id: str) -> str:
    # Ids made of letters, digits and underscores are used as they are. Any
    # other id gets a short hash, so two ids that fold to the same text differ.
    if _SAFE_ID.fullmatch(client_id):
        return client_id
    digest = hashlib.sha256(client_id.encode("utf-8")).hexdigest()[:10]
    folded = slugify(client_id, max_length=20)
    return f"{folded}-{digest}" if folded else digest


def report_stem(client_id: str, client_name: str) -> str:
    """Return the file name, without suffix, of one client's report.

    Parameters
    ----------
    client_id
        The client's identifier; it makes the name unique.
    client_name
        The client's display name; its slug makes the name readable.

    Returns
    -------
    str
        ``<slug>-<id>``, or ``client-<id>`` when the name has no ASCII letter
        or digit. Only ``a-z``, ``A-Z``, ``0-9``, ``-`` and ``_`` occur.

    Raises
    ------
    ReportError
        If ``client_id`` is empty.
    """
    if not client_id:
        raise ReportError("Cannot name a report file: the client id is empty.")
    slug = slugify(client_name) or "client"
    return f"{slug}-{_id_part(client_id)}"


def report_stems(
    clients: Mapping[str, str] | Iterable[tuple[str, str]],
) -> dict[str, str]:
    """Return ``{client_id: stem}`` for many clients and check they are unique.

    Raises
    ------
    ReportError
        If two clients would get the same file name. That takes two ids that
        differ only in letter case, or in characters outside ``A-Za-z0-9_``
        with the same hash prefix. The message names both clients.
    """
    pairs = clients.items() if isinstance(clients, Mapping) else clients
    stems: dict[str, str] = {}
    owners: dict[str, str] = {}
    for client_id, name in pairs:
        stem = report_stem(client_id, name)
        key = stem.lower()
        if key in owners and owners[key] != client_id:
            raise ReportError(
                f"Clients {owners[key]!r} and {client_id!r} map to the same report "
                f"file name {stem!r}; give one of them a different client id."
            )
        owners[key] = client_id
        stems[client_id] = stem
    return stems
