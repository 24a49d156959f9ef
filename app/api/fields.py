"""JSON fields that take the type they name, not a string or number that converts to it.

marshmallow's ``Float`` loads ``"1.0"`` and a ``Boolean`` with ``truthy={True}`` still
loads ``1`` (``1 == True``); the contract answers 422 to both.
"""

from flask import current_app
from marshmallow import fields

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
