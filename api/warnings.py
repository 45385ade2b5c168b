"""Warnings and their verification (疑点核实, Art. 11(二)); handing on what is not finance's
(移交, Art. 11(三)); the focus list (Art. 11(二)4)."""
from dataclasses import replace

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.cases import CaseSchema  # the case workflow's own schema: one shape for a case
from api.fields import AwareDateTime, Integer, Money, non_negative
from api.pagination import PageQuery, page_schema, paginate
from api.warning_files import StepRecordSchema, WarningFileSchema
from workflow import verification
from workflow.db import db
from workflow.machines import MACHINES, WARNING
from workflow.machines.base import fields_schema
from workflow.monitoring.models import (
    PAYMENT_STATUSES,
    SETTLEMENTS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    MonitoringWarning,
)
from workflow.monitoring.rules import RULES_BY_NAME, WARNING_RULES
from workflow.parties import ORG_KINDS
from workflow.schemas import Flag, choice
from workflow.verification import CASE_RUNGS, RESPONSE_KINDS
from workflow.verification_steps import STEP_KINDS

UNIT_CASE = MACHINES["unit_case"]

blp = Blueprint("warnings", __name__, url_prefix="/api/v1",
                description="Warnings (预警/疑点): verification steps, answers, confirmation into cases, "
                            "dismissal, transfer to the department that owns a matter outside finance's remit "
                            "(Art. 11(二)-(三)); the focus list (Art. 11(二)4)")


class WarningPaymentSchema(ma.Schema):
    id = Integer()
    voucher_no = ma.fields.String()
    amount = Money()
    paid_at = AwareDateTime()
    payee_name = ma.fields.String()
    summary = ma.fields.String()
    economic_code = ma.fields.String()
    settlement = ma.fields.String(validate=ma.validate.OneOf(SETTLEMENTS))
    status = ma.fields.String(validate=ma.validate.OneOf(PAYMENT_STATUSES))


class WarningSchema(ma.Schema):
    id = Integer()
    rule = ma.fields.String(validate=ma.validate.OneOf(WARNING_RULES))
    level = ma.fields.String(validate=ma.validate.OneOf(WARNING_LEVELS))
    article = ma.fields.String(metadata={"description": "as the regulation numbers it, e.g. 第十三条（二）2"})
    message = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(WARNING_STATUSES))
    status_reason = ma.fields.String(allow_none=True)
    unit_code = ma.fields.Function(lambda w: w.unit.code, metadata={"type": "string"})
    unit_name = ma.fields.Function(lambda w: w.unit.name, metadata={"type": "string"})
    payment = ma.fields.Nested(WarningPaymentSchema, allow_none=True)
    rule_set_version = Integer(allow_none=True)
    rule_set_department = ma.fields.Function(
        lambda w: w.rule_set_department.code if w.rule_set_department_id is not None else None, metadata={
            "type": "string", "nullable": True,
            "description": "the finance department whose rule set (at rule_set_version) raised it (Art. 5-7)"})
    case_id = Integer(allow_none=True)
    version = Integer()
    created_at = AwareDateTime()
    closed_at = AwareDateTime(allow_none=True)


class StepRequestSchema(ma.Schema):
    """A party the step asks (Art. 11(二)2-5), until when, and what came of it."""

    org_code = ma.fields.String()
    org_kind = ma.fields.String(validate=ma.validate.OneOf(ORG_KINDS))
    due_date = ma.fields.Date(allow_none=True, metadata={
        "description": "local date; due at the end of that working day (a day off: of the next working day)"})
    due_at = AwareDateTime(allow_none=True, metadata={"description": "the moment it is due (23:59:59 local)"})
    answered_at = AwareDateTime(allow_none=True, metadata={"description": "when the party answered (None: not yet)"})
    response_id = Integer(allow_none=True, metadata={"description": "the answer that answered it"})
    reminded_at = AwareDateTime(allow_none=True, metadata={"description": "when the party was last reminded"})
    overdue_at = AwareDateTime(allow_none=True, metadata={
        "description": "when finance was told it went unanswered past its due date"})


class StepSchema(ma.Schema):
    id = Integer()
    warning_id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(STEP_KINDS)))
    article = ma.fields.String()
    details = ma.fields.Dict()
    addressee_code = ma.fields.String(allow_none=True, metadata={"description": "oversight body of a joint investigation"})
    document_id = Integer(allow_none=True)
    created_by_id = Integer(allow_none=True)
    created_at = AwareDateTime()
    due_date = ma.fields.Date(allow_none=True, metadata={
        "description": "what the step asks is due at the end of this local working day (None: no date)"})
    due_at = AwareDateTime(allow_none=True)
    asked = ma.fields.List(ma.fields.Nested(StepRequestSchema), metadata={
        "description": "the parties the step asks (documents: the unit and the carrying bank; interview: the unit; "
                       "focus letter: the unit and its competent department; joint investigation: the oversight body)"})
    record = ma.fields.Nested(StepRecordSchema, allow_none=True, metadata={
        "description": "what an interview or an on-site check ended with (Art. 11(二)3), once recorded"})


class ResponseSchema(ma.Schema):
    id = Integer()
    warning_id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(dict.fromkeys(RESPONSE_KINDS.values()))), metadata={
        "description": "explanation (unit), materials (competent, bank), findings (oversight), "
                       "outcome (the department a warning was handed on to, Art. 11(三))"})
    org_code = ma.fields.String()
    org_kind = ma.fields.String(validate=ma.validate.OneOf(ORG_KINDS))
    text = ma.fields.String()
    evidence_ref = ma.fields.String(allow_none=True)
    step_id = Integer(allow_none=True, metadata={"description": "the step this answers, if it names one"})
    files = ma.fields.List(ma.fields.Nested(WarningFileSchema), metadata={
        "description": "attached by the party that answered (POST .../responses/{id}/files)"})
    created_at = AwareDateTime()


class TransferSchema(ma.Schema):
    """A warning handed on to the department that owns the matter (移交, Art. 11(三))."""

    id = Integer()
    warning_id = Integer()
    receiver_code = ma.fields.String()
    receiver_name = ma.fields.String()
    details = ma.fields.Dict(metadata={"description": "the transfer's fields: matters, basis, reply_by, materials"})
    document_id = Integer(allow_none=True, metadata={"description": "the numbered 移交函"})
    created_by_id = Integer(allow_none=True)
    created_at = AwareDateTime()


class WarningDetailSchema(WarningSchema):
    steps = ma.fields.List(ma.fields.Nested(StepSchema))
    responses = ma.fields.List(ma.fields.Nested(ResponseSchema))
    document_ids = ma.fields.List(Integer())
    transfer = ma.fields.Nested(TransferSchema, allow_none=True, metadata={
        "description": "finance and the receiver only (Art. 11(三)); null otherwise"})


class WarningQuery(PageQuery):
    status = ma.fields.String(validate=ma.validate.OneOf(WARNING_STATUSES))
    rule = ma.fields.String(validate=ma.validate.OneOf(WARNING_RULES))
    level = ma.fields.String(validate=ma.validate.OneOf(WARNING_LEVELS))
    unit_code = ma.fields.String()


class ArticleRefSchema(ma.Schema):
    """An article as the regulation numbers it: 第{article}条（{item}）{point}."""

    article = Integer(required=True, validate=ma.validate.Range(min=1, max=99), metadata={"description": "条"})
    item = Integer(validate=ma.validate.Range(min=1, max=20), metadata={"description": "项（一）、（二）…"})
    point = Integer(validate=ma.validate.Range(min=1, max=40), metadata={"description": "目 1、2…; needs item"})

    @ma.validates_schema
    def _point_of_an_item(self, data, **kwargs):
        if data.get("point") is not None and data.get("item") is None:
            raise ma.ValidationError("a point belongs to an item: give the item", "point")


class WarningCreateSchema(ma.Schema):
    """A warning finance raises by hand (人工排查, Art. 12): on a payment of the unit, or on the
    unit alone (a site visit). Name a screening ``rule`` or a ``finding`` of your own; the
    ``article`` defaults to the rule's and is required with a finding."""

    unit_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))
    payment_id = Integer(allow_none=True, validate=ma.validate.Range(min=1),
                         metadata={"description": "a payment of that unit; leave out for the unit alone"})
    level = choice(WARNING_LEVELS, required=True)
    rule = choice(tuple(RULES_BY_NAME))
    finding = ma.fields.String(validate=ma.validate.Length(min=1, max=60),
                               metadata={"description": "what was found, when no screening rule names it"})
    article = ma.fields.Nested(ArticleRefSchema)
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=400))

    @ma.validates_schema
    def _rule_or_finding(self, data, **kwargs):
        if ("rule" in data) == ("finding" in data):
            raise ma.ValidationError("give a screening rule or a finding, one of them", "rule")
        if "finding" in data and "article" not in data:
            raise ma.ValidationError("required with a finding", "article")


class StepCreateSchema(ma.Schema):
    """``kind`` and that kind's fields. Which fields each kind takes is its row in
    ``workflow.verification_steps.STEP_KINDS``: the step is loaded with the row's schema by
    ``verification.add_step`` (a field of another kind is named and refused) and documented as
    one component per kind (``STEP_BODIES``)."""

    class Meta:
        unknown = ma.INCLUDE

    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(STEP_KINDS)))


STEP_BODIES = {kind.schema.__name__: kind.schema for kind in STEP_KINDS.values()}


def _release_payment(**kwargs) -> Flag:
    return Flag(metadata={"description": "pay the held payment although confirmed"}, **kwargs)


def _confirm_body(rung: str) -> type[ma.Schema]:
    """The body of a confirmation on ``rung``: ``rung``, ``release_payment`` and the fields of
    the unit case's opening on that rung, generated from its row (``summary`` defaults to the
    warning's finding)."""
    opening = UNIT_CASE.openings[rung]
    fields = tuple(replace(f, required=False) if f.name == "summary" else f for f in opening.fields)
    return fields_schema(f"WarningConfirm.{rung}", fields, f"{opening.label} ({opening.article.chinese})", extra={
        "rung": choice((rung,), required=True),
        "release_payment": _release_payment()})


CONFIRM_BODIES = {f"WarningConfirm.{rung}": _confirm_body(rung) for rung in CASE_RUNGS}
# The bodies of the warning table's rows that take input (transfer, close_transfer), as the
# warning lifecycle generates them from the rows' fields: what the domain loads them with.
ROW_BODIES = dict(WARNING.schemas)


def register_schemas(spec) -> None:
    """Each step kind's, confirmation rung's and warning row's body as a component (called once per app)."""
    for name, schema in {**STEP_BODIES, **CONFIRM_BODIES, **{f"warning.{t}": s for t, s in ROW_BODIES.items()}}.items():
        spec.components.schema(name, {"description": schema.__doc__} if schema.__doc__ else None, schema=schema)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class ResponseCreateSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=10000))
    evidence_ref = ma.fields.String(validate=ma.validate.Length(max=200),
                                    metadata={"description": "an evidence id, voucher or file number held elsewhere"})
    step_id = Integer(validate=ma.validate.Range(min=1), metadata={
        "description": "the step answered: one of this warning's that asked the caller (422 otherwise); "
                       "left out, the answer answers each of the caller's open requests on the warning"})


class ConfirmSchema(ma.Schema):
    """``rung`` and the fields that rung's opening takes, loaded by the case workflow with the
    opening's schema (a field the rung does not take is named and refused; defaults such as
    the order's deadline applied); documented as one component per rung (``CONFIRM_BODIES``)."""

    class Meta:
        unknown = ma.INCLUDE

    rung = ma.fields.String(required=True, validate=ma.validate.OneOf(CASE_RUNGS))
    release_payment = _release_payment(load_default=False)


class RowBodySchema(ma.Schema):
    """A warning row's fields, loaded by the domain with the row's schema (a field the row does
    not take is named and refused); documented as the component ``warning.<trigger>``."""

    class Meta:
        unknown = ma.INCLUDE


class DismissSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class FocusQuery(ma.Schema):
    days = Integer(validate=ma.validate.Range(min=1, max=3660))
    min_warnings = Integer(validate=ma.validate.Range(min=1))
    min_blocks = Integer(validate=ma.validate.Range(min=1))
    min_amount = Money(validate=non_negative)


class FocusThresholdSchema(ma.Schema):
    days = Integer()
    min_warnings = Integer()
    min_blocks = Integer()
    min_amount = Money()


class FocusRowSchema(ma.Schema):
    unit_code = ma.fields.String()
    unit_name = ma.fields.String()
    warnings = Integer()
    block_warnings = Integer()
    flagged_amount = Money()
    reasons = ma.fields.List(ma.fields.String(), metadata={"description": "often, serious, large_amount"})
    last_focus_letter_at = AwareDateTime(allow_none=True)


class FocusListSchema(ma.Schema):
    since = AwareDateTime()
    thresholds = ma.fields.Nested(FocusThresholdSchema)
    items = ma.fields.List(ma.fields.Nested(FocusRowSchema))


@blp.route("/warnings")
class Warnings(MethodView):
    @blp.arguments(WarningQuery, location="query")
    @blp.response(200, page_schema(WarningSchema))
    def get(self, args):
        """Warnings the caller may see, filtered by status, rule, level and unit."""
        actor = current_actor()
        return paginate(verification.warnings_for(actor, args, visibility=False), MonitoringWarning.id, args,
                        verification.reach(actor))

    @blp.arguments(WarningCreateSchema)
    @blp.response(201, WarningSchema)
    def post(self, data):
        """Finance raises a warning by hand (人工排查, Art. 12) on a payment or a unit of its
        jurisdiction (another's or an unknown unit: 422 on unit_code); it is verified like any
        other. The unit is told, with finance, and for a block its competent department and the
        bank carrying the payment. 409 if the payment has a warning of that rule already."""
        warning = verification.raise_warning(current_actor(), data)
        db.session.commit()
        return warning


@blp.route("/warnings/<int:warning_id>")
class WarningView(MethodView):
    @blp.response(200, WarningDetailSchema)
    def get(self, warning_id):
        """A warning with its steps, answers and notices (404 unless the caller may see it)."""
        return verification.detail(current_actor(), warning_id)


@blp.route("/warnings/<int:warning_id>/steps")
class WarningSteps(MethodView):
    # One component per kind, each with its own ``kind``: the kind given says which applies.
    @blp.doc(requestBody={"content": {"application/json": {"schema": {
        "description": "the body of the step kind named in kind: component VerificationStep.<kind>",
        "anyOf": [_ref(name) for name in STEP_BODIES]}}}})
    @blp.arguments(StepCreateSchema)
    @blp.response(201, StepSchema)
    def post(self, data, warning_id):
        """Finance records a verification step (Art. 11(二)); interview, onsite and focus
        letter issue their notices; a joint investigation shows the warning to that body."""
        step = verification.add_step(current_actor(), warning_id, data)
        db.session.commit()
        return step


@blp.route("/warnings/<int:warning_id>/responses")
class WarningResponses(MethodView):
    @blp.arguments(ResponseCreateSchema)
    @blp.response(201, ResponseSchema)
    def post(self, data, warning_id):
        """The unit explains; its competent department, the bank or the oversight body asked add
        theirs; the department a warning was handed on to answers with its outcome (Art. 11(三))."""
        response = verification.add_response(current_actor(), warning_id, data)
        db.session.commit()
        return response


@blp.route("/warnings/<int:warning_id>/confirm")
class WarningConfirm(MethodView):
    # One component per rung, each with its own ``rung`` (the opening's fields, generated from its row).
    @blp.doc(requestBody={"content": {"application/json": {"schema": {
        "description": "the body of a confirmation on the rung named in rung: component WarningConfirm.<rung>",
        "anyOf": [_ref(name) for name in CONFIRM_BODIES]}}}})
    @blp.arguments(ConfirmSchema)
    @blp.response(201, CaseSchema)
    def post(self, data, warning_id):
        """Confirm the violation: open a unit case on the rung (Art. 21); a held payment is
        refused unless ``release_payment``. 409 if the warning was decided already."""
        case = verification.confirm(current_actor(), warning_id, data)
        db.session.commit()
        return case


@blp.route("/warnings/<int:warning_id>/dismiss")
class WarningDismiss(MethodView):
    @blp.arguments(DismissSchema)
    @blp.response(200, WarningSchema)
    def post(self, data, warning_id):
        """Dismiss with a reason; a held payment is released. 409 if decided already."""
        warning = verification.dismiss(current_actor(), warning_id, data)
        db.session.commit()
        return warning


@blp.route("/warnings/<int:warning_id>/transfer")
class WarningTransferView(MethodView):
    @blp.doc(requestBody={"content": {"application/json": {"schema": _ref("warning.transfer")}}})
    @blp.arguments(RowBodySchema)
    @blp.response(201, TransferSchema)
    def post(self, data, warning_id):
        """Hand an open or verifying warning on to the department that owns the matter, outside
        finance's remit (移交, Art. 11(三)), with a numbered 移交函 to it; the receiver and the unit
        are told. A held payment stays held until the transfer is closed. Finance of the unit's
        jurisdiction only; 409 if decided already, 422 naming the field (a receiver that is not a
        department in reach: ``receiver_code``)."""
        handed = verification.transfer(current_actor(), warning_id, data)
        db.session.commit()
        return handed


@blp.route("/warnings/<int:warning_id>/close-transfer")
class WarningCloseTransfer(MethodView):
    @blp.doc(requestBody={"content": {"application/json": {"schema": _ref("warning.close_transfer")}}})
    @blp.arguments(RowBodySchema)
    @blp.response(200, WarningSchema)
    def post(self, data, warning_id):
        """Close a transferred warning once the receiver answered with its outcome (移交办结, Art.
        11(三)); a held payment is released (or refused with ``payment: refuse``). 409 before the
        receiver answered or unless transferred."""
        warning = verification.close_transfer(current_actor(), warning_id, data)
        db.session.commit()
        return warning


@blp.route("/focus-list")
class FocusList(MethodView):
    @blp.arguments(FocusQuery, location="query")
    @blp.response(200, FocusListSchema)
    def get(self, args):
        """Units of the caller's jurisdiction that trigger warnings often, seriously or for
        large amounts (Art. 11(二)4), candidates for a 关注函. Finance only."""
        return verification.focus_list(current_actor(), args)
