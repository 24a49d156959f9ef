"""A keep-alive HTTP client for 127.0.0.1 that times each request end to end
(send, wait, read the whole body)."""

import http.client
import json
import re
import time
from urllib.parse import urlencode


class Response:
    def __init__(self, status: int, headers, body: bytes, seconds: float):
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def json(self):
        return json.loads(self.body)


class Client:
    """One reused connection. ``bearer`` or a session ``cookie`` authenticates."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"User-Agent": "moralbank-bench/1", "Accept-Language": "zh-CN"}
        self.reconnects = 0

    def request(self, method: str, path: str, *, body=None, form=None, headers=None) -> Response:
        hdrs = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; the retried sample
                # includes a new TCP connect, which is counted in ``reconnects``.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.reconnects += 1
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - t0
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return Response(resp.status, resp.headers, payload, seconds)
        raise AssertionError("unreachable")

    def get(self, path: str, params: dict | None = None, **kw) -> Response:
        return self.request("GET", path + ("?" + urlencode(params) if params else ""), **kw)

    def post(self, path: str, body=None, **kw) -> Response:
        return self.request("POST", path, body=body, **kw)

    def token_login(self, username: str, password: str) -> None:
        r = self.post("/api/v1/auth/token", {"username": username, "password": password})
        if r.status != 200:
            raise RuntimeError(f"POST /api/v1/auth/token for {username}: {r.status} {r.body[:300]!r}")
        self.headers["Authorization"] = "Bearer " + r.json()["token"]

    def form_login(self, username: str, password: str) -> None:
        """Log in through the real form: fetch /login, send its CSRF token back."""
        r = self.get("/login")
        if r.status != 200:
            raise RuntimeError(f"GET /login: {r.status}")
        self._take_cookie(r)
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', r.body) or re.search(
            rb'value="([^"]+)"[^>]*name="csrf_token"', r.body
        )
        form = {"username": username, "password": password}
        if match:
            form["csrf_token"] = match.group(1).decode()
        r = self.request("POST", "/login", form=form)
        self._take_cookie(r)
        if r.status not in (302, 303):
            raise RuntimeError(f"POST /login for {username}: {r.status} (expected a redirect)")

    def _take_cookie(self, r: Response) -> None:
        for value in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name.strip() == "session":
                self.headers["Cookie"] = "session=" + rest.split(";", 1)[0]

    def close(self) -> None:
        self.conn.close()
