from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("rankings", __name__, template_folder="templates")


@bp.route("/standings")
@login_required
def standings():
    return render_template("base.html")
