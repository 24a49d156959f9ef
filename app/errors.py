"""Domain errors: raised by services, turned into the API's error JSON or a flash message.

Each error carries the contract's machine code and HTTP status; ``message`` is a
lazily translated template filled from ``details``.
"""

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    code = "error"
    status = 409
    message = _l("操作被拒绝")

    def __init__(self, message=None, **details):
        super().__init__(message or self.code)
        if message is not None:
            self.message = message
        self.details = details

    def render_message(self) -> str:
        text = str(self.message)
        try:
            return text % self.details if "%(" in text else text
        except (KeyError, TypeError, ValueError):
            return text


class ValidationFailed(DomainError):
    """422: field validation; ``details`` maps each field to a list of messages."""

    code, status, message = "validation_error", 422, _l("输入有误，请检查标出的字段")

    def __init__(self, fields: dict, message=None):
        super().__init__(message, **fields)


class BadRequest(DomainError):
    code, status, message = "validation_error", 400, _l("请求格式有误")


class BadReference(DomainError):
    """400: the body names something that does not exist or is out of scope."""

    code, status, message = "not_found", 400, _l("引用的记录不存在：%(field)s")


class NotFound(DomainError):
    code, status, message = "not_found", 404, _l("未找到该记录")


class Forbidden(DomainError):
    code, status, message = "forbidden", 403, _l("无权执行此操作")


class InvalidCredentials(DomainError):
    code, status, message = "invalid_credentials", 401, _l("用户名或密码错误")


class CapReached(DomainError):
    """What was used and the limit, in that order; where some is left (a quantity too
    large for it), how much: "reached" beside "used 1 of 3" read as a contradiction."""

    code, message = "cap_reached", _l("本周期已记 %(used)s 次，上限 %(cap_count)s 次")
    some_left = _l("本周期已记 %(used)s 次，上限 %(cap_count)s 次，最多还能记 %(left)s 次")

    def render_message(self) -> str:
        used, cap = self.details.get("used"), self.details.get("cap_count")
        if isinstance(used, int) and isinstance(cap, int) and used < cap:
            return str(self.some_left) % {"used": used, "cap_count": cap, "left": cap - used}
        return super().render_message()


class HouseholdMovedOut(DomainError):
    code, message = "household_moved_out", _l("该户已迁出，不能再记分")
    person_left = _l("此人已离开，不能再记分和兑换")

    @classmethod
    def of(cls, account, message=None) -> "HouseholdMovedOut":
        """The refusal for a moved-out account: a person who left is named so."""
        return cls(cls.person_left if account.kind == "person" else message)


class RuleInactive(DomainError):
    code, message = "rule_inactive", _l("该规则已停用")


class EvidenceRequired(DomainError):
    code, message = "evidence_required", _l("该规则要求上传佐证照片")


class AlreadyReversed(DomainError):
    code, message = "already_reversed", _l("该记录已被冲正")


class NotPending(DomainError):
    code, message = "not_pending", _l("该记录不在待审核状态")


class NotApproved(DomainError):
    code, message = "not_approved", _l("只有已生效的记录才能冲正")


class SelfApproval(DomainError):
    code, message = "self_approval", _l("不能审核自己录入的记录")


class PeriodClosed(DomainError):
    code, message = "period_closed", _l("%(period)s 已公示或结算，不能再录入该期记录")


class YearNotEnded(DomainError):
    """409: the annual reset of a year that has not ended yet in the deployment's zone."""

    code, message = "year_not_ended", _l("%(year)s 年尚未结束（今天是 %(today)s），不能年度清零")


class IdempotencyConflict(DomainError):
    code, message = "idempotency_conflict", _l("同一个 Idempotency-Key 已用于不同的请求")


class InsufficientPoints(DomainError):
    code, message = "insufficient_points", _l("可兑换积分不足，还差 %(short)s 分")


class OutOfStock(DomainError):
    code, message = "out_of_stock", _l("库存不足：%(name)s 只剩 %(stock)s")


class InvalidQR(DomainError):
    code, status, message = "invalid_qr", 400, _l("无法识别的积分卡")


class QRRevoked(DomainError):
    code, status, message = "qr_revoked", 400, _l("这张积分卡已作废，请使用新卡")


class AlreadyCancelled(DomainError):
    code, message = "already_cancelled", _l("该兑换已撤销")
