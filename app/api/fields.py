"""JSON fields that take the type they name, not a string or number that converts to it.

marshmallow's ``Float`` loads ``"1.0"`` and a ``Boolean`` with ``truthy={True}`` still
loads ``1`` (``1 == True``); the contract answers 422 to both.
"""

from collections.abc import Mapping

from flask import current_app, has_request_context, request
from marshmallow import ValidationError, fields, post_load, validates_schema

from app.clock import to_local_iso


class StrictBoolean(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictFloat(fields.Float):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictDate(fields.Date):
    """``YYYY-MM-DD`` only (Python's ISO parser also takes ``20261120``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise self.make_error("invalid", input=value, obj_type="date")
        return super()._deserialize(value, attr, data, **kwargs)


class LocalTimestamp(fields.String):
    """A naive UTC timestamp from the database, answered in the app's zone with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return to_local_iso(value, current_app.config["TIMEZONE"])


def account_for_household(household: str, account: str, *, required: bool):
    """A schema's hooks taking ``account`` (``account_id``) where ``household``
    (``household_id``) is taken: an account's id is its row of the households table, so
    the one given is loaded as ``household``. Both given and different, or neither where
    one is required, is 422 naming the field. Use as
    ``_check_account, _as_household = account_for_household("household_id", "account_id", required=True)``."""

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check(self, data, original, **kwargs):
        mine, theirs = data.get(household), data.get(account)
        if mine is not None and theirs is not None and mine != theirs:
            raise ValidationError(f"{household} 与 {account} 不一致（只填一项即可）", account)
        named = isinstance(original, Mapping) and (household in original or account in original)
        if required and not named:
            raise ValidationError(f"必填（或填 {account}）", household)

    @post_load
    def as_household(self, data, **kwargs):
        given = data.pop(account, None)
        if given is not None:
            if data.get(household) is None:
                sent_as(household, account)
            data[household] = given
        return data

    return check, as_household


ALIASES = "moral_bank.field_aliases"  # request.environ: field → the name the request gave it


def sent_as(field: str, alias: str) -> None:
    """The request gave ``field`` under the name ``alias``: an error the services raise
    about ``field`` is answered under ``alias`` (``named_as_sent``)."""
    if has_request_context():  # the request's, not ``g`` (which an app context outlives)
        request.environ.setdefault(ALIASES, {})[field] = alias


def named_as_sent(details: dict) -> dict:
    """An error's details with each field named as the request named it: a bad
    ``account_id`` is reported under ``account_id``, not the ``household_id`` it was
    loaded as (both ``{"field": name}`` of a bad reference and ``{name: [messages]}``)."""
    aliases = request.environ.get(ALIASES) if has_request_context() else None
    if not aliases:
        return details
    return {
        aliases.get(k, k): (aliases.get(v, v) if k == "field" and isinstance(v, str) else v) for k, v in details.items()
    }
