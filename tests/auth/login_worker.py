"""One "gunicorn worker" for the shared-throttling tests: the app in a process of its own
(its own limiter, its own memory), serving on a free port, which it prints, with a
thread per request (as gunicorn's ``--threads``), so requests race as they do in production.

``python -m tests.auth.login_worker CONFIG_JSON [--init]``; ``--init`` first creates the
tables and the users ``alice`` and ``bob``.
"""

import json
import logging
import sys

from werkzeug.serving import make_server

from app import create_app
from app.auth import models as auth_models
from app.auth import services
from app.extensions import db
from tests.factories import PASSWORD

auth_models.PASSWORD_METHOD = "pbkdf2:sha256:1000"


def main() -> None:
    config = json.loads(sys.argv[1])
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False, **config})
    if "--init" in sys.argv:
        with app.app_context():
            db.drop_all()
            db.create_all()
            for name in ("alice", "bob"):
                services.create_user(db.session, None, {"username": name, "password": PASSWORD, "roles": ["admin"]})
            db.session.commit()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
