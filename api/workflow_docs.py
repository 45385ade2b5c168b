"""The case machines, the warning, payment and payment-plan lifecycles and the verification steps as data:
each table as JSON, and the machines as diagrams drawn from them."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from workflow.errors import NotFound
from workflow.machines import LIFECYCLES, MACHINES, CaseMachine, Lifecycle
from workflow.machines.diagram import render_svg
from workflow.verification_steps import STEP_KINDS

blp = Blueprint("workflow", __name__, url_prefix="/api/v1",
                description="The state machines of cases (Art. 21-24) and the lifecycles of warnings, "
                            "payments (Art. 11, 28) and payment plans (Art. 10(二)1), derived from their tables")


def machine_named(name: str) -> CaseMachine | Lifecycle:
    """``unit-case`` or ``unit_case``, ``warning``, ``payment``; 404 for anything else."""
    key = name.replace("-", "_")
    machine = MACHINES.get(key) or LIFECYCLES.get(key)
    if machine is None:
        raise NotFound(f"no machine {name!r}")
    return machine


@blp.route("/workflow/warning/steps")
class VerificationStepTable(MethodView):
    @blp.response(200)
    def get(self):
        """The verification step kinds (疑点核实方式, Art. 11(二)): each kind's title, article and
        fields (name, type, label, required, choices), the notice it issues, whom it tells and
        whether it moves the warning. The body of ``POST /warnings/{id}/steps`` is generated
        from these rows."""
        return {"steps": [kind.describe() for kind in STEP_KINDS.values()]}


@blp.route("/workflow/<name>")
class MachineTable(MethodView):
    @blp.response(200)
    def get(self, name):
        """States and transitions (trigger, source, dest, roles, guards, fields, article,
        documents, notifications), escalation on overdue and proposals to finance, of
        ``unit-case`` and ``bank-case``; the states a record is created in and the rows that
        move it, of the ``warning``, ``payment`` and ``payment-plan`` lifecycles."""
        return machine_named(name).describe()


@blp.route("/workflow/<name>.svg")
class MachineDiagram(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    def get(self, name):
        """The machine drawn from its table."""
        return Response(render_svg(machine_named(name)), mimetype="image/svg+xml")
