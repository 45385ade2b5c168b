"""Notices as PDF: the stored HTML typeset by WeasyPrint, so that the PDF says what the HTML says.

Nothing is fetched while typesetting: the notices carry inline CSS only, the fonts come from
the system (fontconfig; the setup installs Debian's ``fonts-noto-cjk``, see ``.ci/run``), and
the URL fetcher refuses every URL but inline ``data:`` ones, so neither a template nor a value
in a notice can make the server reach the network or read a local file.
"""
from __future__ import annotations

import weasyprint
from weasyprint.urls import default_url_fetcher


class RefusedFetch(ValueError):
    """A notice asked for a resource outside itself."""


def local_only_fetcher(url: str, *args, **kwargs):
    if not url.startswith("data:"):
        raise RefusedFetch(f"notices load nothing from outside: {url[:80]}")
    return default_url_fetcher(url, *args, **kwargs)


def render_pdf(html: str) -> bytes:
    """The notice's HTML as PDF bytes (A4, as its ``@page`` rule says)."""
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=local_only_fetcher).write_pdf()
