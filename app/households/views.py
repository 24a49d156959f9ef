from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("households", __name__, template_folder="templates")


@bp.route("/households")
@login_required
def index():
    return render_template("base.html")


@bp.route("/households/<int:household_id>")
@login_required
def show(household_id):
    return render_template("base.html")
