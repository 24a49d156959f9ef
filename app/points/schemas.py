from marshmallow import Schema, ValidationError, fields, validates_schema

from app.api.fields import LocalTimestamp, StrictBoolean, StrictDate, account_for_household


class RuleIn(Schema):
    village_id = fields.Integer(strict=True, metadata={"description": "its household scheme; or give scheme_id"})
    scheme_id = fields.Integer(strict=True, metadata={"description": "in place of village_id"})
    code = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    points = fields.Integer(required=True, strict=True)
    cap_period = fields.String(allow_none=True, load_default=None)
    cap_count = fields.Integer(strict=True, allow_none=True, load_default=None)
    veto = StrictBoolean(load_default=False)
    requires_evidence = StrictBoolean(load_default=False)

    @validates_schema(skip_on_field_errors=False)
    def _one_scheme(self, data, **kwargs):
        """The rule's scheme: ``scheme_id``, or ``village_id``'s household scheme."""
        if data.get("village_id") is None and data.get("scheme_id") is None:
            raise ValidationError("必填（或填 scheme_id）", "village_id")


class RulePatch(Schema):
    code = fields.String()
    name = fields.String()
    category = fields.String()
    points = fields.Integer(strict=True)
    cap_period = fields.String(allow_none=True)
    cap_count = fields.Integer(strict=True, allow_none=True)
    veto = StrictBoolean()
    requires_evidence = StrictBoolean()
    active = StrictBoolean()


class RuleOut(RuleIn):
    id = fields.Integer()
    village_id = fields.Integer(allow_none=True)
    active = fields.Boolean()


class EntryIn(Schema):
    household_id = fields.Integer(strict=True, metadata={"description": "the account; or give account_id"})
    account_id = fields.Integer(strict=True, metadata={"description": "in place of household_id (the same id)"})
    rule_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(strict=True, load_default=1)
    occurred_on = StrictDate(required=True)
    note = fields.String(load_default="")
    member_name = fields.String(load_default="")
    evidence_id = fields.String(allow_none=True, load_default=None)

    _check_account, _as_household = account_for_household("household_id", "account_id", required=True)


class BatchIn(Schema):
    rule_id = fields.Integer(required=True, strict=True)
    household_ids = fields.List(fields.Integer(strict=True), metadata={"description": "or give account_ids"})
    account_ids = fields.List(fields.Integer(strict=True), metadata={"description": "in place of household_ids"})
    occurred_on = StrictDate(required=True)
    note = fields.String(load_default="")
    evidence_id = fields.String(allow_none=True, load_default=None)

    _check_account, _as_household = account_for_household("household_ids", "account_ids", required=True)


class ReasonIn(Schema):
    reason = fields.String(required=True)


class EntryOut(Schema):
    id = fields.Integer()
    household_id = fields.Integer()
    account_id = fields.Integer(attribute="household_id", dump_only=True)
    rule_id = fields.Integer(allow_none=True)
    kind = fields.String()
    title = fields.String()
    category = fields.String(allow_none=True)
    quantity = fields.Integer()
    points = fields.Integer()
    status = fields.String()
    occurred_on = fields.Date()
    period = fields.String()
    note = fields.String()
    member_name = fields.String()
    evidence_id = fields.String(attribute="evidence", allow_none=True)
    recorded_by = fields.Integer(attribute="recorded_by_id", allow_none=True)
    # dump_default: null, not absent, when the entry has no recorder (or no reversal).
    recorded_by_name = fields.String(attribute="recorded_by.display_name", allow_none=True, dump_default=None)
    approved_by = fields.Integer(attribute="approved_by_id", allow_none=True)
    decided_at = LocalTimestamp(allow_none=True)
    reject_reason = fields.String()
    reverses_id = fields.Integer(allow_none=True)
    reversed_by_id = fields.Integer(attribute="reversed_by.id", allow_none=True, dump_default=None)
    created_at = LocalTimestamp()
    seq = fields.Integer()


class Skipped(Schema):
    household_id = fields.Raw()
    account_id = fields.Raw(attribute="household_id", dump_only=True)
    reason = fields.String()


class BatchOut(Schema):
    created = fields.List(fields.Nested(EntryOut))
    skipped = fields.List(fields.Nested(Skipped))


class EvidenceOut(Schema):
    id = fields.String()
    content_type = fields.String()
    size = fields.Integer()


RULE_OUT = RuleOut()
ENTRY_OUT = EntryOut()
SKIPPED = Skipped()
