"""Imports every mapped module so that the metadata (and Alembic) sees all tables."""
from workflow import budget, parties  # noqa: F401
from workflow.monitoring import models as monitoring_models  # noqa: F401
from workflow import documents  # noqa: F401
from workflow import outbox as notification_models  # noqa: F401
from workflow import evidence  # noqa: F401
from workflow import cases  # noqa: F401
from workflow import bank_intake, complaints, verification  # noqa: F401
from workflow import scheduling  # noqa: F401
from workflow import journal  # noqa: F401
