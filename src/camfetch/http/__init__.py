"""The HTTP layer every vendor driver uses.

One :class:`HttpPool` (one aiohttp session) serves every device of a process.
Each device gets a :class:`DeviceHttp`: its base URL, credentials, a limit on
concurrent requests, a timeout on every request and a size cap on every body.
Transport failures become camfetch's typed errors here, so drivers only deal
with answers.
"""

from camfetch.http.client import (
    DeviceHttp,
    Download,
    HttpPool,
    HttpSettings,
    Reply,
    StreamReply,
)

__all__ = ["DeviceHttp", "Download", "HttpPool", "HttpSettings", "Reply", "StreamReply"]
