"""Imports every mapped module so that the metadata (and Alembic) sees all tables."""
from workflow import (  # noqa: F401  # noqa: F401
    analysis_reports,  # noqa: F401
    bank_intake,
    budget,
    cases,  # noqa: F401
    circulars,  # noqa: F401
    complaints,
    documents,  # noqa: F401
    evidence,  # noqa: F401
    journal,  # noqa: F401
    parties,
    registers,  # noqa: F401
    scheduling,  # noqa: F401
    step_requests,
    verification,
    warning_files,  # noqa: F401
    work_reports,  # noqa: F401
)
from workflow import outbox as notification_models  # noqa: F401
from workflow.monitoring import models as monitoring_models  # noqa: F401
from workflow.monitoring import plans as payment_plans  # noqa: F401
