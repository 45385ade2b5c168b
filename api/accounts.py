"""Bank accounts of budget units (Art. 13(一))."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import Integer
from api.pagination import PageQuery, page_schema, paginate
from api.patching import ChangeSchema
from workflow import budget
from workflow.accounts import ACCOUNT_KINDS, ACCOUNT_STATUSES, BankAccount
from workflow.db import db

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Bank accounts (Art. 13(一))")


class AccountSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.Function(lambda a: a.unit.code, dump_only=True, metadata={"type": "string"})
    bank_code = ma.fields.Function(lambda a: a.bank.code, dump_only=True, metadata={"type": "string"})
    number = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(ACCOUNT_KINDS))
    registered = ma.fields.Boolean(dump_only=True)
    status = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(ACCOUNT_STATUSES))


class AccountCreateSchema(ma.Schema):
    unit_code = ma.fields.String(required=True)
    bank_code = ma.fields.String(required=True)
    number = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[0-9A-Za-z-]{4,40}$"))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ACCOUNT_KINDS))
    registered = ma.fields.Boolean(load_default=False)
    status = ma.fields.String(load_default="active", validate=ma.validate.OneOf(ACCOUNT_STATUSES))


class AccountChangeSchema(ChangeSchema):
    registered = ma.fields.Boolean()
    status = ma.fields.String(validate=ma.validate.OneOf(ACCOUNT_STATUSES))


class AccountQuery(PageQuery):
    kind = ma.fields.String(validate=ma.validate.OneOf(ACCOUNT_KINDS))
    status = ma.fields.String(validate=ma.validate.OneOf(ACCOUNT_STATUSES))


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.arguments(AccountQuery, location="query")
    @blp.response(200, page_schema(AccountSchema))
    def get(self, args):
        """List the bank accounts the caller may see."""
        stmt = budget.accounts_for(current_actor())
        for field in ("kind", "status"):
            if args.get(field):
                stmt = stmt.where(getattr(BankAccount, field) == args[field])
        return paginate(stmt, BankAccount.id, args)

    @blp.arguments(AccountCreateSchema)
    @blp.response(201, AccountSchema)
    def post(self, data):
        """Record an account: finance for units in its jurisdiction, a unit for itself (unregistered)."""
        account = budget.register_account(current_actor(), data)
        db.session.commit()
        return account


@blp.route("/accounts/<int:account_id>")
class Account(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, account_id):
        return budget.get_account(current_actor(), account_id)

    @blp.arguments(AccountChangeSchema)
    @blp.response(200, AccountSchema)
    def patch(self, changes, account_id):
        """Finance registers, suspends, closes or reactivates an account."""
        account = budget.change_account(current_actor(), account_id, changes)
        db.session.commit()
        return account
