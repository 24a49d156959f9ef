"""JSON fields that take the type they name, not a string or number that converts to it.

marshmallow's ``Float`` loads ``"1.0"`` and a ``Boolean`` with ``truthy={True}`` still
loads ``1`` (``1 == True``); the contract answers 422 to both.
"""

from collections.abc import Mapping

from flask import current_app
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
            data[household] = given
        return data

    return check, as_household
