"""Headers every answer carries, set in one place after the view has answered."""
from __future__ import annotations

from flask import Flask, Response


def _nosniff(response: Response) -> Response:
    # A browser must take a JSON answer (or any other) as the type it is declared, never
    # guess it is HTML or script from the content (OWASP ASVS 14.4.4).
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def register(app: Flask) -> None:
    app.after_request(_nosniff)
