"""The limits the server enforces, stated in the OpenAPI document, so that a request the
document calls valid is not refused for its form (422).

The services check these (with messages in Chinese beside each field); the document only
describes them. Integers: no column holds more than PostgreSQL's ``integer``. The rest by
component schema and property, or by query parameter name.
"""

import copy

from marshmallow import fields

from app.api.fields import LocalTimestamp
from app.auth.models import ROLES
from app.inputs import DB_INT_MAX

# clock.parse_period: a quarter or a year; where months are taken (a monthly scheme's
# cycle and standings), also a month ``2026-03``.
PERIOD = {"type": "string", "pattern": "^(20[0-9]{2}|2100)(Q[1-4])?$", "example": "2026Q3"}
PERIOD_OR_MONTH = {"type": "string", "pattern": "^(20[0-9]{2}|2100)(Q[1-4]|-(0[1-9]|1[0-2]))?$", "example": "2026Q3"}
# The one of the two that names a scheme (a village names its household scheme).
SCHEME_NAMED = {
    "oneOf": [
        {"required": ["village_id"], "not": {"required": ["scheme_id"]}},
        {"required": ["scheme_id"], "not": {"required": ["village_id"]}},
    ]
}
# An amount of yuan as the API answers it (``fields.Decimal(places=2, as_string=True)``).
YUAN = {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "example": "75.00"}
# What ``str.strip()`` strips, in every regex dialect: ``\s`` is narrower in ECMA 262 and
# Rust than in Python (no U+001C–U+001F in either, no U+0085 in ECMA 262).
_SPACE = "\\s\\u001c-\\u001f\\u0085"
# Text without a NUL (``app.inputs``) and not all space. (``\S`` alone would take a NUL as
# the one character that is not space.)
VISIBLE = f"^[^\\u0000]*[^{_SPACE}\\u0000][^\\u0000]*$"
REASON = {"minLength": 1, "pattern": VISIBLE, "maxLength": 500}
NAME = {"minLength": 1, "maxLength": 100, "pattern": VISIBLE}  # 1–100 characters, not all space
CODE = {"pattern": "^[A-Za-z0-9_\\-]{1,30}$"}
PHONE = {"pattern": "^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"}  # households.services.PHONE_RE
NUMBER = {"pattern": "^[0-9A-Za-z\\-]{1,20}$"}  # households.services.NUMBER_RE
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"  # C0, DEL and C1: a NUL, a tab, a newline
CATEGORY_PATTERN = f"^[^\\s{_CONTROL}]([^{_CONTROL}]*[^\\s{_CONTROL}])?$"
# schemes.services.validate_settings / validate_categories
SETTINGS = {
    "base_points": {"minimum": 0, "maximum": 100_000},
    "redeem_floor": {"minimum": 0, "maximum": 100_000},
    "notice_days": {"minimum": 0, "maximum": 90},
    "yuan_per_point": {"minimum": 0.01, "maximum": 1000},
    "categories": {
        "minItems": 1,
        "maxItems": 30,
        "uniqueItems": True,
        # no space at either end (names are stripped, so " a" and "a" would be the same) and
        # no control character anywhere (schemes.services.CONTROL_CHARACTER)
        "items": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": CATEGORY_PATTERN},
    },
}

HOUSEHOLD = {
    "number": NUMBER,
    "head_name": {**NAME, "maxLength": 50},
    "address": {"maxLength": 200},
    "phone": PHONE,
    "members": {"maxItems": 30},
}
RULE = {
    "code": {"pattern": "^[A-Za-z0-9\\-]{1,30}$"},
    "name": NAME,
    "category": {"minLength": 1, "maxLength": 20, "pattern": CATEGORY_PATTERN},
    "points": {"minimum": -1000, "maximum": 1000, "not": {"enum": [0]}},
    "cap_period": {"enum": [None, "day", "week", "month", "quarter", "year"]},
    "cap_count": {"minimum": 1, "maximum": 10_000},
}
ITEM = {
    "name": NAME,
    "unit": {"maxLength": 20},
    "price_points": {"minimum": 1, "maximum": 100_000},
    "stock": {"minimum": 0, "maximum": 1_000_000},
    "low_stock": {"minimum": 0, "maximum": 1_000_000},
}

# component schema → property → what to add to its description
PROPERTIES = {
    "UserIn": {
        "username": {"pattern": "^[A-Za-z0-9_.\\-]{3,40}$"},
        "password": {"minLength": 8},
        "roles": {"minItems": 1, "items": {"type": "string", "enum": list(ROLES)}},
    },
    "VillageIn": {"code": CODE, "name": NAME, "township": NAME},
    "RegionIn": {"code": CODE, "name": NAME},
    "Scheme": SETTINGS,  # PUT /villages/{id}/scheme: schemes.services.set_village_scheme
    "SchemeIn": {"name": NAME, **SETTINGS},
    "SchemePatch": {"name": NAME, **SETTINGS},
    "BatchIn": {"household_ids": {"minItems": 1}, "account_ids": {"minItems": 1}},
    "AccountIn": {  # accounts.services._clean (households' number and phone checks)
        "number": {"pattern": "^[0-9A-Za-z\\-]{1,20}$"},
        "name": {**NAME, "maxLength": 50},
        "phone": PHONE,
    },
    "RedemptionIn": {"lines": {"minItems": 1, "maxItems": 50}, "qr_token": {"minLength": 1, "pattern": VISIBLE}},
    "ShopIn": {"name": NAME},  # redemption.shops.create_shop
    "DecisionIn": {"note": {"minLength": 1, "pattern": VISIBLE}},  # rankings.objections.decide_objection
    "LineIn": {"quantity": {"minimum": 1, "maximum": 100}},  # redemption.services.MAX_LINE_QUANTITY
    # households.services: _check_number, _check_head_name, _check_address, _check_phone
    "HouseholdIn": HOUSEHOLD,
    "HouseholdPatch": HOUSEHOLD,
    "Member": {"name": {**NAME, "maxLength": 50}, "relation": {"maxLength": 20}},
    # points.rules.validate_rule_fields (whether the category is one of the scheme's is the data's)
    "RuleIn": RULE,
    "RulePatch": RULE,
    # redemption.shops: _check_item_values, receive_stock
    "ItemIn": ITEM,
    "ItemPatch": ITEM,
    "ReceiptIn": {"quantity": {"minimum": 1, "maximum": 1_000_000}},
    "ObjectionIn": {"period": {**PERIOD_OR_MONTH, "nullable": False}},
    # Two decimals as a string ("75.00"): exact, as a JSON number could not promise.
    "AwardOut": {"fund_yuan": YUAN, "amount_yuan": YUAN},
    "EntryIn": {"quantity": {"minimum": 1, "maximum": 100}},
    "AwardIn": {  # rankings.awards._check
        "period": PERIOD_OR_MONTH,
        "title": {**NAME, "maxLength": 50},
        "top_n": {"minimum": 1, "maximum": 1000},
        "bonus_points": {"minimum": 0, "maximum": 10_000},
        "fund_yuan": {"type": "number", "minimum": 0.01, "maximum": 999999999999.99, "multipleOf": 0.01},
        "allocation": {"type": "string", "enum": ["equal", "proportional"]},
    },
}
# component schema → names that must be given although the schema loads without them
REQUIRED = {
    "EvidenceForm": ["file"],  # a multipart file part, which the form schema does not load
    "SchemeIn": [
        "name",
        "account_kind",
        "cadence",
        *SETTINGS.keys() - {"categories"},
        "annual_reset",
        "approval_required",
    ],
}
# component schema → extra keywords (OpenAPI 3.0 has no if/then)
EXTRA = {
    "RedemptionIn": {
        "anyOf": [
            {
                "required": ["qr_token"],
                "properties": {"qr_token": {"type": "string", "minLength": 1, "pattern": VISIBLE}},
            },
            {"required": ["household_id"], "properties": {"household_id": {"type": "integer"}}},
            {"required": ["account_id"], "properties": {"account_id": {"type": "integer"}}},
        ]
    },
    # household_id or account_id (the same id): one of them, or both alike
    "EntryIn": {"anyOf": [{"required": ["household_id"]}, {"required": ["account_id"]}]},
    "BatchIn": {"anyOf": [{"required": ["household_ids"]}, {"required": ["account_ids"]}]},
    # an entry (its period is the entry's), or a period's published standings
    "ObjectionIn": {
        "anyOf": [
            {"required": ["entry_id"], "properties": {"entry_id": {"type": "integer"}}},
            {"required": ["period"]},
        ]
    },
    "VillageIn": {  # region_id, else the township's name
        "anyOf": [
            {"required": ["region_id"], "properties": {"region_id": {"type": "integer"}}},
            {"required": ["township"], "properties": {"township": {"type": "string", **NAME}}},
        ]
    },
    "SchemeNameIn": SCHEME_NAMED,
    "AwardIn": SCHEME_NAMED,  # fund_yuan and allocation come together: cross-field
    "RuleIn": {  # exactly one of the two
        "oneOf": [
            {"required": ["village_id"], "not": {"required": ["scheme_id"]}},
            {"required": ["scheme_id"], "not": {"required": ["village_id"]}},
        ]
    },
    "SchemePatch": {"not": {"anyOf": [{"required": [f]} for f in ("account_kind", "village_id", "region_id")]}},
    "SchemeIn": {  # a village's scheme (of persons) or a region's (of persons or villages)
        "oneOf": [
            {
                "required": ["village_id"],
                "properties": {"village_id": {"type": "integer"}, "account_kind": {"enum": ["person"]}},
                "not": {"required": ["region_id"]},
            },
            {
                "required": ["region_id"],
                "properties": {"region_id": {"type": "integer"}, "account_kind": {"enum": ["person", "village"]}},
                "not": {"required": ["village_id"]},
            },
        ]
    },
}
REASON_SCHEMAS = {"ReasonIn", "CancelIn", "DecisionIn", "ObjectionIn"}
PERIOD_PARAMETERS = {"period"}
# operations whose period is a quarter or a year only (household figures have no months);
# the standings take a month with a monthly scheme's ``scheme_id``, which is cross-field
QUARTER_ONLY: set[tuple[str, str]] = set()
# operation → query parameter → its allowed values
ENUM_PARAMETERS = {("get", "/api/v1/entries"): {"status": ["pending"]}}


def storable(self, field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: what a column can store (``app.inputs``): an integer
    within PostgreSQL's ``integer``, text without NUL, unless the field states its own."""
    if isinstance(field, fields.Integer) and "maximum" not in ret and "minimum" not in ret:
        return {"minimum": -DB_INT_MAX, "maximum": DB_INT_MAX}
    if type(field) in (fields.String, LocalTimestamp) and "pattern" not in ret and "enum" not in ret:
        return {"pattern": "^[^\\u0000]*$"}
    return {}


def declare(spec: dict) -> dict:
    """The document with the limits above written in (a copy)."""
    spec = copy.deepcopy(spec)
    _declare_schemas(spec.get("components", {}).get("schemas", {}))
    for path, operations in spec.get("paths", {}).items():
        for method, operation in [("*", operations), *operations.items()]:  # path-level parameters too
            if isinstance(operation, dict):
                period = PERIOD if (method, path) in QUARTER_ONLY else PERIOD_OR_MONTH
                _declare_parameters(operation, ENUM_PARAMETERS.get((method, path), {}), period)
    return spec


def _declare_schemas(schemas: dict) -> None:
    for name, props in PROPERTIES.items():
        for prop, limits in props.items():
            if prop in schemas.get(name, {}).get("properties", {}):
                schemas[name]["properties"][prop].update(copy.deepcopy(limits))
    for name in REASON_SCHEMAS:
        if "reason" in schemas.get(name, {}).get("properties", {}):
            schemas[name]["properties"]["reason"].update(REASON)
    for name, required in REQUIRED.items():
        if name in schemas:
            schemas[name]["required"] = sorted(set(schemas[name].get("required", [])) | set(required))
    for name, extra in EXTRA.items():
        if name in schemas:
            schemas[name].update(copy.deepcopy(extra))


def _declare_parameters(operation: dict, enums: dict, period: dict) -> None:
    for param in operation.get("parameters", []):
        if param.get("name") in PERIOD_PARAMETERS:
            param["schema"] = {**param.get("schema", {}), **period}
        if param.get("name") in enums:
            param["schema"] = {"type": "string", "enum": enums[param["name"]]}


def install(api) -> None:
    api.ma_plugin.converter.add_attribute_function(storable)
    to_dict = api.spec.to_dict
    api.spec.to_dict = lambda: declare(to_dict())
