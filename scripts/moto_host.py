"""An S3 server (moto) for the catalog benchmark, filled in-process.

    python3 scripts/moto_host.py PORT DIR

Serves moto on 127.0.0.1:PORT with the bucket `bx-bucket`, holding every
file under DIR/objects as `objects/...` (put straight into moto's store:
100,000 PUTs over HTTP would take minutes). Then reads commands on standard
input, one per line, answering "ok" on standard output:
  show   puts every file under DIR/catalog into the bucket as `catalog/...`
  hide   deletes them again
  quit   stops
"""
import os
import sys

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer

port, root = int(sys.argv[1]), sys.argv[2]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
account = s3_backends[DEFAULT_ACCOUNT_ID]
backend = account["aws"] if "aws" in account else account["global"]
backend.create_bucket("bx-bucket", "us-east-1")


def files(sub):
    base = os.path.join(root, sub)
    for folder, _, names in os.walk(base):
        for name in names:
            path = os.path.join(folder, name)
            yield sub + "/" + os.path.relpath(path, base).replace(os.sep, "/"), path


def put_all(sub):
    for key, path in files(sub):
        with open(path, "rb") as f:
            backend.put_object("bx-bucket", key, f.read())


put_all("objects")
print("ready", flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "show":
        put_all("catalog")
    elif command == "hide":
        for key, _ in files("catalog"):
            backend.delete_object("bx-bucket", key)
    elif command == "quit":
        break
    print("ok", flush=True)
server.stop()
