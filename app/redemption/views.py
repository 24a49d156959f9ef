from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("redemption", __name__, template_folder="templates")

for _name in ("counter", "shops", "my_card", "catalogue", "reports"):
    bp.add_url_rule(f"/shop/{_name}", _name, login_required(lambda: render_template("base.html")))
