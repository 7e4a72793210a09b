"""First contact with a Digest-only device: the scheme is learnt once, then remembered."""

from __future__ import annotations

from aiohttp import web

from camfetch.http import DeviceHttp, HttpPool
from camfetch.sim.httpauth import DeviceLogin, Verdict


async def test_auto_auth_learns_digest_once_and_never_pays_a_401_again():
    login = DeviceLogin("admin", "pw", realm="Login to X", basic=False, digest=True)
    statuses: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        verdict = login.check(request.method, request.headers.get("Authorization"))
        response = web.Response(text="ok") if verdict is Verdict.OK else login.unauthorized()
        statuses.append(response.status)
        return response

    app = web.Application()
    app.router.add_get("/x", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    pool = HttpPool()
    try:
        http = DeviceHttp(
            pool, f"http://127.0.0.1:{runner.addresses[0][1]}", label="t",
            username="admin", password="pw", auth_mode="auto",
        )  # fmt: skip
        for _ in range(3):
            assert (await http.request("GET", "/x")).status == 200
    finally:
        await pool.close()
        await runner.cleanup()
    # two challenges at first contact (the middleware asks for its own), none afterwards
    assert statuses == [401, 401, 200, 200, 200] and http.auth_scheme == "digest"
