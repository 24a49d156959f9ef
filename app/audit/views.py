from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("audit", __name__, template_folder="templates")


@bp.route("/audit")
@login_required
def index():
    return render_template("base.html")
