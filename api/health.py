"""Liveness and database reachability."""
import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import public
from workflow.db import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    database = ma.fields.String()


@blp.route("/health")
@public
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Is the service up, and can it reach its database?"""
        db.session.execute(sa.text("SELECT 1"))
        return {"status": "ok", "database": db.engine.dialect.name}
