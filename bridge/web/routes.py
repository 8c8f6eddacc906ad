"""The bridge endpoint's routes for people and monitors: `/healthz`, `/metrics`, the status page at
`/` and its actions.

The page shows what the household watches, so it needs the secret: entered once in a form, then
kept as a cookie derived from it (HttpOnly, SameSite=Strict; a new secret logs every browser out).
Every action is a POST that must carry a token derived from the secret as well, and come from the
page's own origin (Origin and Sec-Fetch-Site): a page elsewhere cannot make a logged-in browser act.
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bridge.http import HttpError, HttpServer, Request, Response
from bridge.web import page
from bridge.web.report import health, report

if TYPE_CHECKING:
    from bridge.daemon import Bridge

COOKIE = "simkl_bridge"
KEEP = 400 * 86400  # the longest a browser keeps a cookie
HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}  # no-referrer would make Origin "null"


def register(server: HttpServer, b: Bridge) -> None:
    routes = _Routes(server, b)
    server.add_route("GET", "/healthz", routes.healthz, secret=False)
    server.add_route("GET", "/metrics", routes.metrics, secret=False)
    server.add_route("GET", "/", routes.status_page, secret=False)
    server.add_route("POST", "/login", routes.login, secret=False)
    server.add_route("POST", "/logout", routes.logout, secret=False)
    server.add_route("POST", "/retry", routes.retry, secret=False)


class _Routes:
    def __init__(self, server: HttpServer, b: Bridge):
        self.server, self.bridge = server, b

    def _derived(self, purpose: str) -> str:
        # read at each request: a reloaded secret applies at once
        return hmac.new(self.server.secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    def _logged_in(self, request: Request) -> bool:
        try:
            cookie = SimpleCookie(request.headers.get("cookie", ""))
        except CookieError:
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value, self._derived("session"))

    def healthz(self, _request: Request) -> Response:
        reasons = health(self.bridge)
        return Response(503, {"status": "unhealthy", "reasons": reasons}) if reasons else Response(200, {"status": "ok"})

    def metrics(self, _request: Request) -> Response:
        body, ctype = self.bridge.metrics.render()
        return Response(200, body, {"Content-Type": ctype})

    def status_page(self, request: Request) -> Response:
        if not self._logged_in(request):
            return Response(200, page.login(), dict(HTML))
        return Response(200, page.status(report(self.bridge), self._derived("csrf")), dict(HTML))

    def login(self, request: Request) -> Response:
        form = _form(request, own_origin=True)
        given = form.get("secret", "")
        if not hmac.compare_digest(given.encode(), self.server.secret.encode()):
            return Response(403, page.login("That is not the bridge's secret."), dict(HTML))
        cookie = f"{COOKIE}={self._derived('session')}; Max-Age={KEEP}; Path=/; HttpOnly; SameSite=Strict"
        return Response(303, "", {"Location": "/", "Set-Cookie": cookie})

    def _action(self, request: Request) -> dict[str, str]:
        """An action's form, once it is shown to come from a logged-in page of our own."""
        form = _form(request, own_origin=True)
        if not self._logged_in(request) or not hmac.compare_digest(form.get("csrf", ""), self._derived("csrf")):
            raise HttpError(403, "not from the status page: open it and log in again")
        return form

    def logout(self, request: Request) -> Response:
        self._action(request)
        return Response(303, "", {"Location": "/", "Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"})

    def retry(self, request: Request) -> Response:
        form = self._action(request)
        try:
            ids = [int(form["id"])]
        except (KeyError, ValueError):
            raise HttpError(400, "retry: which write (id) is missing") from None
        self.bridge.retry_parked(ids)
        return Response(303, "", {"Location": "/"})


def _form(request: Request, *, own_origin: bool) -> dict[str, str]:
    if own_origin and not _same_origin(request):
        raise HttpError(403, "a request from another site is refused")
    try:
        fields: dict[str, Any] = parse_qs(request.body(limit=16384).decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "the form is not readable") from None
    return {k: v[0] for k, v in fields.items() if v}


def _same_origin(request: Request) -> bool:
    """A browser says where a request comes from (Sec-Fetch-Site, Origin); other clients say
    nothing and still need the secret or the cookie and token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")
