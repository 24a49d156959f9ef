"""The audit log page: who did what, when and from where, for officials and admins."""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from app.audit import services
from app.audit.models import AuditLog
from app.clock import to_local_iso
from app.extensions import db
from app.scope import in_villages, require_role
from app.web import current_actor, listed_villages, tz, village_choices, working_village_id

bp = Blueprint("audit", __name__, template_folder="templates")

ACTION_LABELS = {
    "village.create": _l("新建村"),
    "village.scheme": _l("修改积分方案"),
    "user.create": _l("新建用户"),
    "user.password": _l("重置密码"),
    "user.activate": _l("启用用户"),
    "user.deactivate": _l("停用用户"),
    "household.create": _l("登记农户"),
    "household.update": _l("修改农户资料"),
    "household.move_out": _l("农户迁出"),
    "household.import": _l("导入农户名册"),
    "household.export": _l("导出农户名册"),
    "household.qr_revoke": _l("作废户卡二维码"),
    "account.create": _l("添加人员"),
    "account.import": _l("导入人员名单"),
    "account.update": _l("修改人员资料"),
    "account.leave": _l("人员离开"),
    "rule.create": _l("新建规则"),
    "rule.update": _l("修改规则"),
    "rule.load_standard": _l("载入标准规则"),
    "entry.approve": _l("审核通过"),
    "entry.reject": _l("驳回记录"),
    "entry.reverse": _l("冲正记录"),
    "shop.create": _l("新建积分超市"),
    "item.create": _l("新增商品"),
    "item.update": _l("修改商品"),
    "redemption.cancel": _l("撤销兑换"),
    "period.close": _l("结算并公示"),
    "period.finalize": _l("定榜"),
    "objection.create": _l("提出异议"),
    "objection.file": _l("提出异议"),
    "objection.decide": _l("处理异议"),
    "objection.uphold": _l("异议成立"),
    "objection.dismiss": _l("异议不成立"),
    "award.create": _l("评选表彰"),
    "award.grant": _l("评选表彰"),
    "period.roll_year": _l("年度清零"),
    "region.create": _l("新建区域"),
    "scheme.create": _l("新建积分方案"),
    "scheme.update": _l("修改积分方案"),
}

FIELD_LABELS = {
    "number": _l("户号"),
    "head_name": _l("户主"),
    "address": _l("地址"),
    "phone": _l("电话"),
    "members": _l("家庭成员"),
    "base_points": _l("开户基础分"),
    "redeem_floor": _l("兑换底线"),
    "yuan_per_point": _l("每分折合（元）"),
    "approval_required": _l("记分须审核"),
    "notice_days": _l("公示天数"),
    "annual_reset": _l("每年清零"),
    "code": _l("编码"),
    "name": _l("名称"),
    "category": _l("类别"),
    "points": _l("分值"),
    "cap_period": _l("上限周期"),
    "cap_count": _l("上限次数"),
    "veto": _l("一票否决"),
    "requires_evidence": _l("须上传佐证"),
    "active": _l("启用"),
    "stock": _l("库存"),
    "price_points": _l("兑换分值"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def show_value(value) -> str:
    if value is None or value == "" or value == []:
        return str(_l("（空）"))
    if isinstance(value, bool):
        return str(_l("是")) if value else str(_l("否"))
    if isinstance(value, list):
        return "、".join(
            f"{v.get('name', '')}{'（' + v['relation'] + '）' if v.get('relation') else ''}"
            if isinstance(v, dict)
            else str(v)
            for v in value
        )
    return str(value)


def show_changes(changes) -> list[str]:
    """``{field: [old, new]}`` → ``["户主: 张三 → 李四", ...]``."""
    if not isinstance(changes, dict):
        return []
    lines = []
    for field, change in changes.items():
        label = FIELD_LABELS.get(field)
        label = str(label) if label is not None else field
        if isinstance(change, (list, tuple)) and len(change) == 2:
            lines.append(f"{label}: {show_value(change[0])} → {show_value(change[1])}")
        else:
            lines.append(f"{label}: {show_value(change)}")
    return lines


@bp.route("/audit")
@login_required
def index():
    actor = current_actor()
    require_role(actor, "village_admin", "reviewer")
    village_id = working_village_id(actor)
    villages = listed_villages(actor, village_id)
    q = request.args.get("q", "").strip()[:100]
    action = request.args.get("action", "").strip()[:40]
    actions = select(AuditLog.action).distinct().order_by(AuditLog.action)
    if villages is not None:
        actions = actions.where(in_villages(AuditLog.village_id, villages))
    pagination = db.paginate(
        services.search(villages, q, action),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=50,
        error_out=False,
    )
    return render_template(
        "audit/index.html",
        pagination=pagination,
        q=q,
        action=action,
        actions=db.session.scalars(actions).all(),
        village_id=village_id,
        villages=village_choices() if actor.user.is_admin else [],
        action_label=action_label,
        show_changes=show_changes,
        local_time=lambda at: (to_local_iso(at, tz()) or "").replace("T", " ")[:19],
    )
