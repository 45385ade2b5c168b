"""Organisations the caller may see (its own reach, always itself)."""
import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow.parties import FINANCE_LEVELS, ORG_KINDS, Organisation
from workflow.scoping import organisations_for

blp = Blueprint("orgs", __name__, url_prefix="/api/v1", description="Parties: finance departments, "
                "competent departments, budget units, agent banks, oversight bodies")


class OrgSchema(ma.Schema):
    id = Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(ORG_KINDS))
    level = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(FINANCE_LEVELS))
    region = ma.fields.String(allow_none=True)
    parent_code = ma.fields.Function(lambda o: o.parent.code if o.parent else None, metadata={"type": "string", "nullable": True})


class OrgRefSchema(ma.Schema):
    """An organisation as other records name it (a case's subject, a notice's issuer...)."""

    id = Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(ORG_KINDS))


class OrgQuery(PageQuery):
    kind = ma.fields.String(validate=ma.validate.OneOf(ORG_KINDS))


@blp.route("/orgs")
class Orgs(MethodView):
    @blp.arguments(OrgQuery, location="query")
    @blp.response(200, page_schema(OrgSchema))
    def get(self, args):
        """List organisations visible to the caller."""
        stmt = sa.select(Organisation).where(organisations_for(current_actor()))
        if args.get("kind"):
            stmt = stmt.where(Organisation.kind == args["kind"])
        return paginate(stmt, Organisation.id, args)
