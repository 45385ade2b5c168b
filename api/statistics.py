"""Monitoring statistics (监控结果运用, Art. 11(四)(五)): one endpoint, a period and a grouping."""
import datetime as dt

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Date, Integer, Money
from workflow import statistics
from workflow.schemas import choice

blp = Blueprint("statistics", __name__, url_prefix="/api/v1",
                description="Monitoring statistics: what screening, verification and the cases found (Art. 11(四)(五))")


def _this_year() -> dt.date:
    return dt.date(statistics.local_today().year, 1, 1)


class StatisticsQuery(ma.Schema):
    from_ = Date(data_key="from", load_default=_this_year,
                 metadata={"description": "first local date of the period (default: 1 January of this year)"})
    to = Date(load_default=lambda: statistics.local_today(), metadata={"description": "last local date, included (default: today)"})
    group_by = choice(statistics.GROUPINGS, load_default="unit")


class DaysSchema(ma.Schema):
    median = ma.fields.Float(metadata={"description": "days, one decimal"})
    count = Integer()


class PaymentFigures(ma.Schema):
    screened = Integer()
    amount = Money()
    intercepted = Integer(metadata={"description": "held by a block-level warning (拦截), whatever became of them"})
    intercepted_amount = Money()
    held = Integer(metadata={"description": "held now, awaiting verification"})
    refused = Integer()
    refused_amount = Money()


class WarningFigures(ma.Schema):
    raised = Integer()
    amount = Money(metadata={"description": "each warning's payment (a payment with two warnings counts twice)"})
    pending = Integer()
    confirmed = Integer()
    dismissed = Integer()
    other = Integer(metadata={"description": "decided otherwise (e.g. handed on to another department)"})
    confirmed_amount = Money()
    block = Integer(metadata={"description": "block-level warnings"})
    confirmation_rate = ma.fields.String(allow_none=True, metadata={"description": "confirmed / (confirmed + dismissed), percent"})
    days_to_decision = ma.fields.Nested(DaysSchema, allow_none=True)


class CaseFigures(ma.Schema):
    opened = Integer()
    closed = Integer()
    overdue = Integer(metadata={"description": "open and past their deadline now"})
    appealed = Integer(metadata={"description": "taken to review or litigation (Art. 24) at any time"})
    by_rung = ma.fields.Dict(keys=ma.fields.String(), values=Integer())
    days_to_closure = ma.fields.Nested(DaysSchema, allow_none=True)


class ExecutionFigures(ma.Schema):
    year = Integer(allow_none=True)
    budget = Money()
    spent = Money()
    rate = ma.fields.String(allow_none=True, metadata={"description": "spent / budget, percent (支出进度)"})


class FiguresSchema(ma.Schema):
    payments = ma.fields.Nested(PaymentFigures, allow_none=True)
    warnings = ma.fields.Nested(WarningFigures, allow_none=True)
    cases = ma.fields.Nested(CaseFigures, allow_none=True)
    execution = ma.fields.Nested(ExecutionFigures, allow_none=True)


class GroupSchema(FiguresSchema):
    key = ma.fields.String(allow_none=True)
    code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)


class PeriodSchema(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from")
    to = ma.fields.String()


class StatisticsSchema(ma.Schema):
    period = ma.fields.Nested(PeriodSchema)
    group_by = ma.fields.String()
    generated_at = AwareDateTime()
    groups = ma.fields.List(ma.fields.Nested(GroupSchema))
    total = ma.fields.Nested(FiguresSchema)


@blp.route("/statistics")
class Statistics(MethodView):
    @blp.arguments(StatisticsQuery, location="query")
    @blp.response(200, StatisticsSchema)
    def get(self, args):
        """Figures of a period in the caller's reach, by finance department (rolled up), competent
        department, unit, rule, level or month, and in total: payments screened, warnings and their
        outcome, confirmation rate per rule, cases by rung, days to decision and to closure, budget
        execution. Finance, competent departments and units; others 403."""
        p = statistics.period(args["from_"], args["to"])
        return statistics.statistics(current_actor(), p, args["group_by"])
