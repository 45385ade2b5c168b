"""Configuration lookup for domain code that must also run without Flask.

Inside an application context the app's config wins (tests pass overrides to
``create_app``); outside one (scripts, benchmarks) the environment is read. The
domain never needs a request: only ``current_app.config``, and only when present.
"""
from __future__ import annotations

import os
from typing import Any


def setting(name: str, default: Any = None) -> Any:
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - Flask is a dependency; kept for plain scripts
        return os.environ.get(name, default)
    if has_app_context() and name in current_app.config:
        # The app's config is the truth, even a None that switches something off (SMTP_URL);
        # keys the Config class does not list fall through to the environment.
        value = current_app.config[name]
        return default if value is None else value
    return os.environ.get(name, default)
