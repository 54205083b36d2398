#!/usr/bin/env python3
"""Writes a Docker config.json with N `auths` entries and H `credHelpers`, in Docker's own format
(tab indent, no trailing newline, keys sorted), so that a no-op login does not rewrite it.

Usage: gen_config.py N HELPERS OUT [EXTRA_HOST USER PASSWORD]: EXTRA_HOST (the bench registry)
gets an entry for USER:PASSWORD when given."""
import base64
import json
import sys

n, helpers, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
auths = {}
for i in range(n):
    cred = base64.b64encode(f"user{i}:password-{i:08d}".encode()).decode()
    auths[f"registry-{i:05d}.example.com"] = {"auth": cred}
if len(sys.argv) > 6:
    host, user, password = sys.argv[4:7]
    auths[host] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
doc = {"auths": dict(sorted(auths.items()))}
if helpers:
    doc["credHelpers"] = {f"{i:012d}.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"
                          for i in range(helpers)}
with open(out, "w") as f:
    f.write(json.dumps(doc, indent="\t"))
