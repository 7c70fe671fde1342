"""The intake's production HTTP server: waitress (a maintained pure-Python WSGI server) in a thread.

    server = HttpServer(app, host="127.0.0.1", port=0, threads=8).start()
    server.port            # the bound port (0 picks a free one)
    server.stop()          # closes the listening socket and every connection, joins the threads

waitress serves each request on a pool of ``threads`` worker threads and does its socket I/O in
one event loop (here the ``intake-http`` thread); it has no debug console, buffers request bodies
up to ``max_body_bytes`` and answers malformed HTTP itself. The Flask app stays the application.
"""

from __future__ import annotations

import logging
import threading

from waitress import create_server, wasyncore

from openhands_driver.errors import UserError

STOP_TIMEOUT_S = 5.0
# "Task queue depth is N" on every burst: normal load, seen in the latency histogram instead
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class HttpServer:
    def __init__(self, app, *, host: str, port: int, threads: int = 8, max_body_bytes: int = 1 << 20):
        self.app = app  # the WSGI app served (tests and tools read it)
        # bound here: "address in use" surfaces in the caller, before start() and before any thread
        try:
            self._server = create_server(app, host=host, port=port, threads=threads,
                                         max_request_body_size=max_body_bytes + 4096,
                                         ident="sre-intake", clear_untrusted_proxy_headers=True,
                                         channel_timeout=60)
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what uses that "
                            "port or pick another (--port 0 takes a free one)") from None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.run, name="intake-http", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def stop(self) -> None:
        """Close the listener and every open connection in the loop's own thread, then the workers."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        server = self._server
        if self._thread is not None and self._thread.is_alive():
            # the event loop ends once its map is empty; closing from inside the loop avoids races
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(STOP_TIMEOUT_S)
        if self._thread is None or self._thread.is_alive():
            wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(timeout=STOP_TIMEOUT_S)
