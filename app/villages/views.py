from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("villages", __name__, template_folder="templates")


@bp.route("/scheme")
@login_required
def scheme():
    return render_template("base.html")
