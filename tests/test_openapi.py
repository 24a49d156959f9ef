"""GET /api/v1/openapi.json describes every endpoint of the contract."""

import re

import pytest

CONTRACT = {
    "/auth/token": {"post"},
    "/villages": {"post", "get"},
    "/villages/{id}/scheme": {"put"},
    "/users": {"post"},
    "/households": {"post", "get"},
    "/households/{id}": {"get"},
    "/households/{id}/entries": {"get"},
    "/rules": {"post", "get"},
    "/rules/{id}": {"patch"},
    "/entries": {"post"},
    "/entries/batch": {"post"},
    "/entries/{id}/approve": {"post"},
    "/entries/{id}/reject": {"post"},
    "/entries/{id}/reverse": {"post"},
    "/leaderboards": {"get"},
    "/leaderboards/villages": {"get"},
    "/regions": {"post", "get"},
    "/regions/{id}": {"get"},
    "/schemes": {"post", "get"},
    "/schemes/{id}": {"get", "patch"},
}


def normalise(path: str) -> str:
    """``/api/v1/entries/{entry_id}/approve`` → ``/entries/{id}/approve``."""
    path = re.sub(r"^/api/v1", "", path)
    return re.sub(r"\{[^}]+\}", "{id}", path)


@pytest.fixture
def spec(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    return r.get_json()


def test_document_is_openapi(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"] == "v1"


@pytest.mark.parametrize("path", sorted(CONTRACT))
def test_every_contract_path_is_described(spec, path):
    described = {
        normalise(p): {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
        for p, ops in spec["paths"].items()
    }
    assert path in described, sorted(described)
    assert CONTRACT[path] <= described[path]


def test_request_bodies_name_the_contract_fields(spec):
    def fields_of(path, method):
        for p, ops in spec["paths"].items():
            if normalise(p) == path:
                schema = ops[method]["requestBody"]["content"]["application/json"]["schema"]
                if "$ref" in schema:
                    schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
                return set(schema["properties"])
        raise AssertionError(path)

    assert {"username", "password"} <= fields_of("/auth/token", "post")
    assert {"household_id", "rule_id", "quantity", "occurred_on", "note", "member_name"} <= fields_of(
        "/entries", "post"
    )
    assert {"rule_id", "household_ids", "occurred_on", "note"} <= fields_of("/entries/batch", "post")
    assert {
        "village_id",
        "code",
        "name",
        "category",
        "points",
        "cap_period",
        "cap_count",
        "veto",
        "requires_evidence",
    } <= fields_of("/rules", "post")
    assert {
        "base_points",
        "redeem_floor",
        "yuan_per_point",
        "approval_required",
        "notice_days",
        "annual_reset",
        "categories",  # taken since 2026-12, not answered
    } == fields_of("/villages/{id}/scheme", "put")
    assert {"village_id", "number", "head_name", "address", "phone", "members"} <= fields_of("/households", "post")
    assert {"reason"} == fields_of("/entries/{id}/reverse", "post")
    assert {"name", "code", "level", "parent_id"} == fields_of("/regions", "post")
    assert {"name", "code", "township", "region_id"} == fields_of("/villages", "post")
    assert {"region_id", "village_id"} <= fields_of("/users", "post")
    assert {
        "name",
        "village_id",
        "region_id",
        "account_kind",
        "cadence",
        "categories",
        "base_points",
        "redeem_floor",
        "yuan_per_point",
        "approval_required",
        "notice_days",
        "annual_reset",
    } == fields_of("/schemes", "post")
    assert {"scheme_id", "village_id"} <= fields_of("/rules", "post")


def test_query_filters_by_region_are_described(spec):
    def query_of(path):
        ops = next(ops for p, ops in spec["paths"].items() if normalise(p) == path)
        return {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}

    assert "parent_id" in query_of("/regions")
    assert {"village_id", "region_id"} <= query_of("/schemes") and "scheme_id" in query_of("/rules")
    assert "region_id" in query_of("/leaderboards") and "region_id" in query_of("/leaderboards/villages")


def test_standings_by_scheme_are_described(spec):
    """Standings accept ``scheme_id=``: the villages' standings too."""
    for path in ("/leaderboards", "/leaderboards/villages"):
        names = [p["name"] for p in spec["paths"]["/api/v1" + path]["get"]["parameters"] if p["in"] == "query"]
        assert "scheme_id" in names, path


def test_every_served_api_route_is_documented(app, spec):
    documented = {normalise(p) for p in spec["paths"]}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith("api-docs."):
            served.add(normalise(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)))
    assert served - documented == set()


@pytest.mark.parametrize(
    "path, content_types",
    [
        ("/households/{id}/qr.png", {"image/png"}),
        ("/households/{id}/qr.svg", {"image/svg+xml"}),
        ("/evidence/{id}", {"image/jpeg", "image/png"}),
    ],
)
def test_image_endpoints_document_their_media_type(spec, path, content_types):
    """A client (or a schema-driven fuzzer) reading the document expects an image, not JSON."""
    ops = next(ops for p, ops in spec["paths"].items() if normalise(p) == path)
    assert set(ops["get"]["responses"]["200"]["content"]) == content_types


def test_errors_are_declared_as_the_api_answers_them(spec):
    """``{"error": {"code", "message", "details"}}`` for every error status, not
    flask-smorest's own ``{code, status, message, errors}`` (the fuzzer checks each answer)."""
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and set(error["properties"]) == {"error"}
    detail = error["properties"]["error"]
    detail = spec["components"]["schemas"][detail["$ref"].split("/")[-1]] if "$ref" in detail else detail
    assert set(detail["required"]) == {"code", "message", "details"}
    for name in ("DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"):
        content = spec["components"]["responses"][name]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/Error"


def test_the_limits_the_server_enforces_are_declared(spec):
    """So that what the document calls valid is accepted (the fuzzer sends such requests)."""
    schemas = spec["components"]["schemas"]
    assert schemas["EntryIn"]["properties"]["household_id"]["maximum"] == 2**31 - 1
    assert schemas["EntryIn"]["properties"]["quantity"]["maximum"] == 100
    assert schemas["ReasonIn"]["properties"]["reason"]["minLength"] == 1
    assert schemas["UserIn"]["properties"]["password"]["minLength"] == 8
    assert "resident" in schemas["UserIn"]["properties"]["roles"]["items"]["enum"]
    assert "\\u0000" in schemas["HouseholdIn"]["properties"]["head_name"]["pattern"]
    leaderboard = {p["name"]: p for p in spec["paths"]["/api/v1/leaderboards"]["get"]["parameters"]}
    assert re.fullmatch(leaderboard["period"]["schema"]["pattern"], "2026Q3")
    assert not re.fullmatch(leaderboard["period"]["schema"]["pattern"], "1999")


def test_a_photo_upload_is_documented_as_the_server_reads_it(spec):
    """Multipart, with the photo's ``file`` part required and said to be a JPEG or PNG:
    a form without it is refused (422), whatever the document called valid."""
    body = spec["paths"]["/api/v1/evidence"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data"}
    form = spec["components"]["schemas"][body["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert set(form["required"]) == {"village_id", "file"}
    assert form["properties"]["file"]["format"] == "binary"
    assert body["multipart/form-data"]["encoding"]["file"]["contentType"] == "image/jpeg, image/png"


@pytest.mark.parametrize(
    "name",
    ["志愿服务", "a", "a b", "零\u3000事故", "x" * 20, "\U0001f600", "\x00", "a\tb", "a\nb", "a\x7fb", "a\x85b",
     "\x1c", " a", "a ", "\u3000a"],
)  # fmt: skip
def test_a_category_the_document_allows_the_server_takes(app, spec, name):
    """The category pattern (JSON Schema's ``pattern`` searches) against
    ``validate_categories`` on both sides of its edge: control characters anywhere, space
    at either end."""
    from app.errors import ValidationFailed
    from app.schemes.services import validate_categories

    for schema in ("SchemeIn", "SchemePatch", "Scheme"):  # PUT /villages/{id}/scheme takes them too
        item = spec["components"]["schemas"][schema]["properties"]["categories"]["items"]
        documented = re.search(item["pattern"], name) is not None and len(name) <= item["maxLength"]
        with app.test_request_context():
            try:
                taken = validate_categories([name]) == [name]
            except ValidationFailed:
                taken = False
        assert documented == taken, (schema, name)


def test_a_villages_scheme_is_documented_with_its_limits(spec):
    """``PUT /villages/{id}/scheme`` checks the settings as ``POST /schemes`` does."""
    props = spec["components"]["schemas"]["Scheme"]["properties"]
    assert (props["base_points"]["minimum"], props["base_points"]["maximum"]) == (0, 100_000)
    assert (props["notice_days"]["minimum"], props["notice_days"]["maximum"]) == (0, 90)
    assert props["yuan_per_point"]["minimum"] == 0.01 and props["categories"]["maxItems"] == 30


@pytest.mark.parametrize("text", ["a", " 张三 ", "a\tb", "\x00", "[\x00]", "a\x00", " ", "\u3000", "\x1c", "\x85", ""])
@pytest.mark.parametrize(
    "schema, prop", [("RegionIn", "name"), ("SchemeIn", "name"), ("ReasonIn", "reason"), ("RedemptionIn", "qr_token")]
)
def test_text_the_document_allows_is_not_all_space_and_has_no_nul(spec, schema, prop, text):
    """As the server reads it: stripped (``str.strip``), and no NUL (``app.inputs``), by
    Python's regex (which generates) and by Rust's (which validates, in the fuzzer)."""
    import jsonschema_rs

    limits = spec["components"]["schemas"][schema]["properties"][prop]
    server_takes = bool(text.strip()) and "\x00" not in text
    assert (re.search(limits["pattern"], text) is not None and len(text) >= limits["minLength"]) == server_takes
    assert jsonschema_rs.validator_for({"type": "string", **limits}).is_valid(text) == server_takes


def test_an_objection_names_an_entry_or_a_period(spec):
    """The contract: ``{"entry_id"?, "period"?, "village_id"?, "reason"}``; an objection to
    an entry needs no period (its period is the entry's), so only one of the two is needed."""
    objection = spec["components"]["schemas"]["ObjectionIn"]
    assert objection["required"] == ["reason"]
    assert [branch["required"] for branch in objection["anyOf"]] == [["entry_id"], ["period"]]


def test_amounts_of_yuan_are_documented_as_the_strings_answered(spec):
    """``"75.00"``: two decimals in a string, as ``fields.Decimal(as_string=True)`` dumps."""
    award = spec["components"]["schemas"]["AwardOut"]["properties"]
    for name in ("fund_yuan", "amount_yuan"):
        assert award[name]["type"] == "string" and award[name]["nullable"] is True, award[name]
        for text, ok in (("75.00", True), ("100000.01", True), ("0.00", True), ("75", False), ("7.5", False)):
            assert bool(re.fullmatch(award[name]["pattern"], text)) is ok, (name, text)


def test_the_card_endpoints_of_accounts_name_an_account_id(spec):
    """``/accounts/{id}/qr…``: the same parameter name as every other /accounts path."""
    paths = [p for p in spec["paths"] if p.startswith("/api/v1/accounts/{")]
    assert {p for p in paths if "/qr" in p} == {
        f"/api/v1/accounts/{{account_id}}/{tail}" for tail in ("qr", "qr.png", "qr.svg", "qr/revoke")
    }
    for path in paths:
        assert path.startswith("/api/v1/accounts/{account_id}"), path
        names = [p["name"] for p in spec["paths"][path].get("parameters", []) if p["in"] == "path"]
        assert names == ["account_id"], (path, names)


# What the fuzz found once its ids named real rows (the field checks of the services,
# reached only past a real village, shop, rule, item or objection): each limit the
# server enforces is stated, so that a request the document calls valid is taken.
SERVICE_LIMITS = [
    ("HouseholdIn", "number", {"pattern": "^[0-9A-Za-z\\-]{1,20}$"}),
    ("HouseholdPatch", "number", {"pattern": "^[0-9A-Za-z\\-]{1,20}$"}),
    ("HouseholdIn", "head_name", {"minLength": 1, "maxLength": 50}),
    ("HouseholdIn", "address", {"maxLength": 200}),
    ("HouseholdIn", "members", {"maxItems": 30}),
    ("Member", "name", {"minLength": 1, "maxLength": 50}),
    ("Member", "relation", {"maxLength": 20}),
    ("RuleIn", "code", {"pattern": "^[A-Za-z0-9\\-]{1,30}$"}),
    ("RulePatch", "code", {"pattern": "^[A-Za-z0-9\\-]{1,30}$"}),
    ("RuleIn", "points", {"minimum": -1000, "maximum": 1000, "not": {"enum": [0]}}),
    ("RulePatch", "cap_period", {"enum": [None, "day", "week", "month", "quarter", "year"]}),
    ("RuleIn", "cap_count", {"minimum": 1, "maximum": 10_000}),
    ("RuleIn", "category", {"minLength": 1, "maxLength": 20}),
    ("ItemIn", "price_points", {"minimum": 1, "maximum": 100_000}),
    ("ItemPatch", "stock", {"minimum": 0, "maximum": 1_000_000}),
    ("ItemIn", "low_stock", {"minimum": 0, "maximum": 1_000_000}),
    ("ItemIn", "unit", {"maxLength": 20}),
    ("ReceiptIn", "quantity", {"minimum": 1, "maximum": 1_000_000}),
    ("LineIn", "quantity", {"minimum": 1, "maximum": 100}),
    ("RedemptionIn", "lines", {"minItems": 1, "maxItems": 50}),
    ("ShopIn", "name", {"minLength": 1, "maxLength": 100}),
    ("DecisionIn", "note", {"minLength": 1}),
    ("AwardIn", "title", {"minLength": 1, "maxLength": 50}),
    ("AwardIn", "top_n", {"minimum": 1, "maximum": 1000}),
    ("AwardIn", "bonus_points", {"minimum": 0, "maximum": 10_000}),
]


@pytest.mark.parametrize("schema, prop, limits", SERVICE_LIMITS)
def test_the_services_field_checks_are_declared(spec, schema, prop, limits):
    declared = spec["components"]["schemas"][schema]["properties"][prop]
    assert {k: declared.get(k) for k in limits} == limits


def test_a_household_route_serving_a_persons_account_answers_as_documented(app, world, session, api, spec):
    """``/households/{id}`` serves any account under its id (a person's too: its card, its
    passbook), whose ``village_id`` may be null: the document says so. The list of
    ``/households`` is of households only."""
    import jsonschema_rs

    from tests.volunteers import person, volunteer_scheme

    li = person(session, world, volunteer_scheme(session, world), "V001", "李志愿")
    session.commit()
    body = api.as_("admin").get(f"/households/{li.id}").get_json()
    assert body["village_id"] is None
    schema = {"$ref": "#/components/schemas/HouseholdDetail", "components": spec["components"]}
    validator = jsonschema_rs.validator_for(_as_json_schema(schema))
    assert validator.is_valid(body), list(validator.iter_errors(body))[:3]
    listed = api.as_("admin").get("/households").get_json()["items"]
    assert li.id not in {h["id"] for h in listed}  # the list is of households only


def _as_json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``type: [..., "null"]``."""
    if isinstance(node, dict):
        out = {k: _as_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and isinstance(node.get("type"), str):
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_as_json_schema(v) for v in node]
    return node
