#!/usr/bin/env python3
"""A minimal Docker registry token server for the benchmark's token-auth registry.

GET /token?service=..&scope=.. with HTTP Basic, or POST /token (OAuth2 password / refresh_token
grants). Tokens are RS256 JWTs whose header carries the signer's self-signed certificate in `x5c`;
that certificate is the registry's `rootcertbundle`. Signing uses `cryptography` when importable
(moto depends on it), else the `openssl` CLI.

Usage: token_server.py PORT KEY.pem CERT.pem USER:PASSWORD [ISSUER SERVICE]"""
import base64
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PORT, KEY, CERT, USERPASS = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ISSUER = sys.argv[5] if len(sys.argv) > 5 else "bench-issuer"
SERVICE = sys.argv[6] if len(sys.argv) > 6 else "bench-registry"
USER, PASSWORD = USERPASS.split(":", 1)
LIFETIME = 300
REFRESH = {}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der(cert_path):
    pem = open(cert_path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


X5C = base64.b64encode(_der(CERT)).decode()

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    _KEY = serialization.load_pem_private_key(open(KEY, "rb").read(), password=None)

    def sign(data):
        return _KEY.sign(data, padding.PKCS1v15(), hashes.SHA256())
except ImportError:  # pragma: no cover
    def sign(data):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=data,
                              capture_output=True, check=True).stdout


def token_for(user, scopes):
    access = []
    for scope in scopes:
        for one in scope.split():
            kind, _, rest = one.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append({"type": kind, "name": name,
                               "actions": [a for a in actions.split(",") if a]})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + LIFETIME, "nbf": now,
              "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    return signing_input + "." + b64url(sign(signing_input.encode()))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def issue(self, user, scopes, offline):
        token = token_for(user, scopes)
        answer = {"token": token, "access_token": token, "expires_in": LIFETIME,
                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if offline:
            refresh = "rt-" + os.urandom(16).hex()
            REFRESH[refresh] = user
            answer["refresh_token"] = refresh
        self.reply(200, answer)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path != "/token":
            return self.reply(404, {"details": "not found"})
        query = parse_qsl(url.query)
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.lower().startswith("basic "):
            try:
                u, _, p = base64.b64decode(auth[6:].strip()).decode().partition(":")
                if (u, p) == (USER, PASSWORD):
                    user = u
            except Exception:
                pass
        if user is None:
            return self.reply(401, {"details": "incorrect username or password"})
        self.issue(user, [v for k, v in query if k == "scope"],
                   ("offline_token", "true") in query)

    def do_POST(self):
        if urlsplit(self.path).path != "/token":
            return self.reply(404, {"details": "not found"})
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        scopes = [form["scope"]] if "scope" in form else []
        offline = form.get("access_type") == "offline"
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (USER, PASSWORD):
                return self.reply(401, {"details": "incorrect username or password"})
            return self.issue(USER, scopes, offline)
        if grant == "refresh_token":
            user = REFRESH.get(form.get("refresh_token", ""))
            if user is None:
                return self.reply(401, {"details": "invalid refresh token"})
            return self.issue(user, scopes, offline)
        self.reply(400, {"details": "unsupported grant_type"})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
