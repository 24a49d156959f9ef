from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("points", __name__, template_folder="templates")


@bp.route("/")
@login_required
def dashboard():
    return render_template("base.html")


for _name in ("record", "batch", "approvals", "rules"):
    bp.add_url_rule(f"/{_name}", _name, login_required(lambda: render_template("base.html")))
