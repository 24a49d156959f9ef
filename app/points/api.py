from pathlib import Path

from flask import current_app, request
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.api import api_blueprint_login, image_response, list_of, paginated, prebuilt
from app.api.idempotency import mutation
from app.clock import local_today, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.inputs import DB_INT_MAX
from app.points import decisions, services
from app.points import evidence as evidence_store
from app.points import rules as rulebook
from app.points.photos import photo_response
from app.points.schemas import (
    ENTRY_OUT,
    RULE_OUT,
    SKIPPED,
    BatchIn,
    BatchOut,
    EntryIn,
    EntryOut,
    EvidenceOut,
    ReasonIn,
    RuleIn,
    RuleOut,
    RulePatch,
)
from app.schemes import services as schemes
from app.scope import acting_village_id, require_role
from app.web import current_actor, tz

blp = Blueprint("points_api", __name__, url_prefix="/api/v1", description="Rules and the points ledger")
api_blueprint_login(blp)


def evidence_folder() -> Path:
    return Path(current_app.instance_path) / "evidence"


class RuleQuery(Schema):
    village_id = fields.Integer()
    scheme_id = fields.Integer(
        metadata={"description": "in place of village_id (both given: the same scheme, else 422)"}
    )
    active = fields.Boolean()


class EntryQuery(Schema):
    village_id = fields.Integer()
    status = fields.String()


@blp.route("/rules", methods=["POST"])
@mutation
@blp.arguments(RuleIn())
@blp.response(201, RuleOut)
def create_rule(data):
    village_id, scheme_id = data.pop("village_id", None), data.pop("scheme_id", None)
    return rulebook.create_rule(db.session, current_actor(), village_id, data, scheme_id=scheme_id)


@blp.route("/rules", methods=["GET"])
@blp.arguments(RuleQuery(), location="query")
@blp.response(200, list_of(RuleOut))
def list_rules(args):
    me = current_actor()
    active_only = args.get("active") is True
    args["village_id"], args["scheme_id"] = schemes.village_or_scheme(
        db.session, args.get("village_id"), args.get("scheme_id")
    )
    if args.get("scheme_id") is not None:
        scheme = schemes.scheme_in_scope(db.session, me, args["scheme_id"])
        return paginated(db.session, rulebook.list_rules(None, active_only=active_only, scheme_id=scheme.id), RULE_OUT)
    # An admin naming no village gets every village's, as with the other lists.
    village_id = acting_village_id(me, args.get("village_id"), residents=True)
    stmt = rulebook.list_rules(village_id, active_only=active_only)
    return paginated(db.session, stmt, RULE_OUT)


@blp.route("/rules/<int:rule_id>", methods=["PATCH"])
@mutation
@blp.arguments(RulePatch())
@blp.response(200, RuleOut)
def patch_rule(data, rule_id):
    return rulebook.update_rule(db.session, current_actor(), rule_id, data)


@blp.route("/rules/<int:rule_id>", methods=["GET"])
@blp.response(200, RuleOut)
def get_rule(rule_id):
    return rulebook.get_rule(db.session, current_actor(), rule_id)


@blp.route("/entries", methods=["POST"])
@mutation
@blp.arguments(EntryIn())
@blp.response(201, EntryOut)
def create_entry(data):
    entry = services.record_entry(db.session, current_actor(), today=local_today(tz()), now=utcnow(), **data)
    return prebuilt(ENTRY_OUT.dump(entry), 201)


@blp.route("/entries/batch", methods=["POST"])
@mutation
@blp.arguments(BatchIn())
@blp.response(201, BatchOut)
def create_batch(data):
    created, skipped = services.record_batch(db.session, current_actor(), today=local_today(tz()), now=utcnow(), **data)
    skipped = SKIPPED.dump(skipped, many=True)
    return prebuilt({"created": ENTRY_OUT.dump(created, many=True), "skipped": skipped}, 201)


@blp.route("/entries", methods=["GET"])
@blp.arguments(EntryQuery(), location="query")
@blp.response(200, list_of(EntryOut))
def list_entries(args):
    """The approval queue (``status=pending``) of the caller's village."""
    me = current_actor()
    require_role(me, "reviewer", "recorder", "village_admin")
    if args.get("status", "pending") != "pending":
        raise ValidationFailed({"status": ["只支持 pending"]})
    return paginated(db.session, services.pending_entries(acting_village_id(me, args.get("village_id"))), ENTRY_OUT)


@blp.route("/entries/<int:entry_id>", methods=["GET"])
@blp.response(200, EntryOut)
def get_entry(entry_id):
    return services.get_entry(db.session, current_actor(), entry_id)


@blp.route("/entries/<int:entry_id>/approve", methods=["POST"])
@mutation
@blp.response(200, EntryOut)
def approve(entry_id):
    return decisions.approve_entry(db.session, current_actor(), entry_id, now=utcnow())


@blp.route("/entries/<int:entry_id>/reject", methods=["POST"])
@mutation
@blp.arguments(ReasonIn())
@blp.response(200, EntryOut)
def reject(data, entry_id):
    return decisions.reject_entry(db.session, current_actor(), entry_id, reason=data["reason"], now=utcnow())


@blp.route("/entries/<int:entry_id>/reverse", methods=["POST"])
@mutation
@blp.arguments(ReasonIn())
@blp.response(201, EntryOut)
def reverse(data, entry_id):
    return decisions.reverse_entry(db.session, current_actor(), entry_id, reason=data["reason"], now=utcnow())


class EvidenceForm(Schema):
    village_id = fields.Integer(required=True, validate=validate.Range(min=1, max=DB_INT_MAX))
    # Read by the view from ``request.files``; here for the document, which also says it
    # is required (``app.api.limits.REQUIRED``). A photo it cannot decode is 422 ``evidence``.
    file = Upload(load_only=True, metadata={"description": "the photo, a JPEG or PNG"})


@blp.route("/evidence", methods=["POST"])
@mutation
@blp.arguments(EvidenceForm(), location="form", content_type="multipart/form-data")
@blp.doc(
    requestBody={"content": {"multipart/form-data": {"encoding": {"file": {"contentType": "image/jpeg, image/png"}}}}}
)
@blp.response(201, EvidenceOut)
def upload_evidence(form):
    """Upload a photo (multipart field ``file``); pass its ``id`` as an entry's ``evidence_id``."""
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    ev = evidence_store.store_evidence(
        db.session,
        current_actor(),
        form["village_id"],
        data,
        evidence_folder(),
        current_app.config["EVIDENCE_MAX_BYTES"],
    )
    return {"id": ev.id, "content_type": ev.content_type, "size": ev.size}


@blp.route("/evidence/<evidence_id>", methods=["GET"])
@blp.doc(responses=image_response("image/jpeg", "image/png"))
def get_evidence(evidence_id):
    ev = evidence_store.evidence_in_scope(db.session, current_actor(), evidence_id)
    return photo_response(evidence_folder(), ev.id, ev.content_type)
