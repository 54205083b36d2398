#!/usr/bin/env python3
"""A loopback stand-in for the ECR API whose tokens are valid for 12 hours (moto's expired in 2015,
so no cache would keep them). Serves plain HTTP (for AWS_ENDPOINT_URL) and, for clients that ignore
endpoint overrides (Debian's docker-credential-ecr-login), acts as an HTTPS CONNECT proxy that
terminates TLS itself with a certificate for api.ecr.*.amazonaws.com (--cert/--key).

Usage: ecr_stub.py PORT [CERT KEY]. Writes a request count to stdout per request (for checks)."""
import base64
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tls = None

    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        host = self.path.split(":")[0]
        if Handler.tls is None or not (host.startswith("api.ecr.") and host.endswith(".amazonaws.com")):
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        conn = Handler.tls.wrap_socket(self.connection, server_side=True)
        self.connection = conn
        self.rfile = conn.makefile("rb", self.rbufsize)
        self.wfile = conn.makefile("wb")
        self.close_connection = False
        while not self.close_connection:
            self.handle_one_request()

    def do_POST(self):
        global COUNT
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        expires = int(time.time()) + 12 * 3600
        token = base64.b64encode(b"AWS:bench-stub-token").decode()
        if target.startswith("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"):
            body = {"authorizationData": [{
                "authorizationToken": token,
                "expiresAt": expires,
                "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            }]}
            status = 200
        else:
            body = {"__type": "UnknownOperationException", "message": target}
            status = 400
        COUNT += 1
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        sys.stdout.write(f"requests {COUNT}\n")
        sys.stdout.flush()


def main():
    port = int(sys.argv[1])
    if len(sys.argv) >= 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        Handler.tls = ctx
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
