"""A webhook receiver for Tandem's tests, verifying with the official `standardwebhooks`
package from PyPI (not Tandem's code).

Listens on 127.0.0.1 (a free port; it says which on stderr as `listening on http://…`):

- `POST /hook`: a delivery. Verified with each configured secret in turn; recorded with
  its headers, body and whether (and with which secret) it verified. Answered as the
  current mode says: `ok` (204), `fail` (503 for the next `fail_count` deliveries, then
  204), `gone` (410), `hang` (no answer for 30 s).
- `PUT /control`: JSON `{"secrets": [...], "mode": "...", "fail_count": N}` (each optional).
- `GET /control/received`: the deliveries so far, as JSON.
- `POST /control/verify`: JSON `{"headers": {...}, "body": "...", "secret": "..."}`:
  verifies it as a delivery would be, without recording it; answers `{"ok": bool, "error": str}`.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

state = {"secrets": [], "mode": "ok", "fail_count": 0, "received": []}
lock = threading.Lock()


def verify(secret, body, headers):
    """The parsed event, or the error standardwebhooks raised."""
    try:
        return Webhook(secret).verify(body, headers), None
    except (WebhookVerificationError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, payload=None):
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self):
        if self.path == "/control/received":
            with lock:
                self.reply(200, state["received"])
        else:
            self.reply(404)

    def do_PUT(self):
        if self.path != "/control":
            return self.reply(404)
        with lock:
            state.update(json.loads(self.read_body()))
        self.reply(204)

    def do_POST(self):
        body = self.read_body()
        if self.path == "/control/verify":
            request = json.loads(body)
            event, error = verify(request["secret"], request["body"], request["headers"])
            return self.reply(200, {"ok": event is not None, "error": error})
        if self.path != "/hook":
            return self.reply(404)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            secrets = list(state["secrets"])
        verified_with, errors = None, []
        for index, secret in enumerate(secrets):
            event, error = verify(secret, body.decode(), headers)
            if event is not None:
                verified_with = index
                break
            errors.append(error)
        with lock:
            mode = state["mode"]
            status = {"ok": 204, "gone": 410, "hang": None}.get(mode, 204)
            if mode == "fail":
                if state["fail_count"] > 0:
                    state["fail_count"] -= 1
                    status = 503
                else:
                    status = 204
            state["received"].append(
                {
                    "headers": headers,
                    "body": body.decode(),
                    "verified_with": verified_with,
                    "errors": errors,
                    "answered": status,
                    "at": time.time(),
                }
            )
        if status is None:
            time.sleep(30)
            return self.reply(204)
        self.reply(status)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
