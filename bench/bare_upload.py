"""The upload ceiling of bench/files.py: a bare Flask view that streams the body to disk."""

import os
import tempfile

from flask import Flask, request

app = Flask(__name__)
FOLDER = os.environ.get("BARE_UPLOAD_FOLDER", tempfile.gettempdir())


@app.post("/upload")
def upload():
    fd, path = tempfile.mkstemp(dir=FOLDER)
    try:
        while piece := request.stream.read(1 << 20):
            os.write(fd, piece)
        os.fsync(fd)  # as the store syncs what it acknowledges
    finally:
        os.close(fd)
        os.remove(path)
    return {"code": 0}
