#!/usr/bin/env python3
"""Serves TinyLM's web/ directory on 127.0.0.1 (scripts/start.sh, the README's main command,
installs what it needs and runs this).

    scripts/serve.py [--port 8080] [--models smollm2|gemma3|all] [--no-build] [--no-fetch]

Before serving it checks that the committed wasm modules (web/*.wasm) match the Swift sources
(./build-wasm.sh --status, which reads web/wasm-build.json) and rebuilds them when not and the
Swift toolchain is there, and fetches the default model (scripts/fetch-models.sh). It serves
web/ at / and the repository's models/ folder at /models/ (from outside web/, so that web/
stays a clean copy for static hosts). It serves with the right MIME types
(application/wasm, text/javascript, application/manifest+json), HTTP Range requests (206),
ETag/Last-Modified validators, and the COOP/COEP headers that make the page cross-origin
isolated, so that the engine can run the threaded module (web/tinylm-mt.wasm, SharedArrayBuffer).
--no-isolation leaves them out (the page then runs the single-thread module).

Test-only switches simulate a bad network for files under /models/ (Tests/browser use them):
    --cut-after N      close the connection after sending N body bytes...
    --cut-count K      ...for the first K model responses only (default: all of them)
    --no-range         ignore Range headers (always answer 200 with the whole file)
    --corrupt-at N     flip the byte at file offset N in every model response
    --rate BYTES/S     throttle model responses
    --test-hooks       enables POST /__test__/config (same settings as JSON, at run time,
                       plus modelsDir: serve /models/ from that folder) and GET /__test__/log
                       (the requests seen, with their Range headers)
Model manifests (/models/*.manifest.json) are never cut, throttled or corrupted.
--port 0 picks a free port; the URL is printed on the first line of stdout either way.
"""

import argparse
import email.utils
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
WEB = os.path.join(ROOT, 'web')
MODELS = os.path.join(ROOT, 'models')
DEFAULT_MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf'

MIME = {
    '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
    '.json': 'application/json', '.webmanifest': 'application/manifest+json',
    '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png',
    '.ico': 'image/x-icon', '.md': 'text/markdown; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
    '.gguf': 'application/octet-stream',
}


def log(message):
    print(f'serve: {message}', file=sys.stderr, flush=True)


# --- preparing the tree -----------------------------------------------------------------------

MODULES = ('tinylm.wasm', 'tinylm-mt.wasm', 'tinylm-relaxed.wasm', 'tinylm-mt-relaxed.wasm')


def ensure_wasm():
    """The committed modules when web/wasm-build.json says they match the sources; else a rebuild."""
    status = subprocess.run([os.path.join(ROOT, 'build-wasm.sh'), '--status'], cwd=ROOT, capture_output=True, text=True)
    reason = (status.stdout + status.stderr).strip()
    if status.returncode == 0:
        log(reason)
        return
    have_modules = all(os.path.exists(os.path.join(WEB, name)) for name in MODULES)
    if not shutil.which('swiftc'):
        if have_modules:
            log(f'WARNING: {reason}; there is no Swift toolchain to rebuild them, so the modules in web/ are served as they are')
            return
        sys.exit(f'serve: {reason}, and there is no Swift toolchain (swiftc) to build them: install Swift 6.3.1, '
                 'or use a checkout with the committed web/*.wasm')
    log(f'{reason}: rebuilding the four modules (./build-wasm.sh; it prints its progress)')
    result = subprocess.run([os.path.join(ROOT, 'build-wasm.sh')], cwd=ROOT)
    if result.returncode != 0:
        if have_modules:
            log('WARNING: the wasm build failed; serving the older modules')
        else:
            sys.exit('serve: the wasm build failed and there are no modules in web/ to serve')


def ensure_models(which):
    if which == 'smollm2' and os.path.exists(os.path.join(ROOT, DEFAULT_MODEL)):
        return
    result = subprocess.run([os.path.join(ROOT, 'scripts/fetch-models.sh'), which], cwd=ROOT)
    if result.returncode != 0:
        sys.exit('serve: fetching the models failed (scripts/fetch-models.sh)')


def remove_legacy_models_link():
    """Earlier versions linked web/models → ../models; `cp -r web` would copy that link."""
    link = os.path.join(WEB, 'models')
    if os.path.islink(link) and os.readlink(link) == '../models':
        os.remove(link)
        log('removed the web/models link an earlier serve.py made (models are served from models/ directly now)')


def link_models():
    """Kept for callers of the earlier version: models need no link now."""
    os.makedirs(os.path.join(ROOT, 'models'), exist_ok=True)
    remove_legacy_models_link()


# --- serving ----------------------------------------------------------------------------------

class Settings:
    """The simulated-failure switches, shared by all request threads."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.cut_after = args.cut_after
        self.cut_count = args.cut_count
        self.no_range = args.no_range
        self.corrupt_at = args.corrupt_at
        self.rate = args.rate
        self.models_dir = None  # tests: serve /models/ from another folder (POST {"modelsDir": ...})
        self.test_hooks = args.test_hooks
        self.requests = []  # [{method, path, range, status, sent}]

    def update(self, config):
        with self.lock:
            for key in ('cut_after', 'cut_count', 'no_range', 'corrupt_at', 'rate', 'models_dir'):
                camel = re.sub(r'_(\w)', lambda m: m.group(1).upper(), key)
                if camel in config:
                    setattr(self, key, config[camel])
                elif key in config:
                    setattr(self, key, config[key])

    def take_cut(self):
        """The byte count after which to cut this model response, or None."""
        with self.lock:
            if self.cut_after is None:
                return None
            if self.cut_count is not None:
                if self.cut_count <= 0:
                    return None
                self.cut_count -= 1
            return self.cut_after


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive; every response carries a Content-Length
    settings = None
    quiet = False
    isolation = True
    models = MODELS  # the folder served at /models/

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=WEB, **kwargs)

    def log_message(self, format, *args):
        if not self.quiet:
            super().log_message(format, *args)

    def end_headers(self):
        # Cross-origin isolation: SharedArrayBuffer, so the threaded module can run.
        if self.isolation:
            self.send_header('Cross-Origin-Opener-Policy', 'same-origin')
            self.send_header('Cross-Origin-Embedder-Policy', 'require-corp')
            self.send_header('Cross-Origin-Resource-Policy', 'same-origin')
        super().end_headers()

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if self.settings.test_hooks and path == '/__test__/config':
            length = int(self.headers.get('Content-Length') or 0)
            self.settings.update(json.loads(self.rfile.read(length) or b'{}'))
            return self.send_json({'ok': True})
        self.send_error(405)

    def translate_path(self, path):
        # /models/… comes from the repository's models/ folder, not from inside web/.
        clean = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        if clean.startswith('/models/'):
            name = clean[len('/models/'):]
            folder = self.settings.models_dir or self.models
            if name and '/' not in name and not name.startswith('.'):
                return os.path.join(folder, name)
            return os.path.join(folder, '.missing')
        return super().translate_path(path)

    def do_GET(self):
        self.serve(body=True)

    def do_HEAD(self):
        self.serve(body=False)

    def send_json(self, value):
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(data)

    def record(self, status, sent=0):
        with self.settings.lock:
            self.settings.requests.append({
                'method': self.command, 'path': urllib.parse.urlsplit(self.path).path,
                'range': self.headers.get('Range'), 'ifRange': self.headers.get('If-Range'),
                'status': status, 'sent': sent,
            })

    def serve(self, body):
        path = urllib.parse.urlsplit(self.path).path
        if self.settings.test_hooks and path == '/__test__/log':
            with self.settings.lock:
                return self.send_json(list(self.settings.requests))
        file = self.translate_path(self.path)
        if os.path.isdir(file):
            if not path.endswith('/'):
                self.send_response(301)
                self.send_header('Location', path + '/')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            file = os.path.join(file, 'index.html')
        if not os.path.isfile(file):
            self.record(404)
            return self.send_error(404, 'not found')
        stat = os.stat(file)
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        # The failure switches apply to model files, not to the manifests beside them.
        is_model = path.startswith('/models/') and not path.endswith('.manifest.json')
        s = self.settings

        if self.headers.get('If-None-Match') == etag:
            self.send_response(304)
            self.send_header('ETag', etag)
            self.end_headers()
            self.record(304)
            return

        start, end, status = 0, size - 1, 200
        requested = self.headers.get('Range')
        if requested and not (is_model and s.no_range):
            if_range = self.headers.get('If-Range')
            if if_range is None or if_range in (etag, last_modified):
                parsed = parse_range(requested, size)
                if parsed == 'unsatisfiable':
                    self.send_response(416)
                    self.send_header('Content-Range', f'bytes */{size}')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    self.record(416)
                    return
                if parsed:
                    start, end = parsed
                    status = 206

        extension = os.path.splitext(file)[1].lower()
        self.send_response(status)
        self.send_header('Content-Type', MIME.get(extension, 'application/octet-stream'))
        self.send_header('Content-Length', str(end - start + 1))
        if status == 206:
            self.send_header('Content-Range', f'bytes {start}-{end}/{size}')
        if not (is_model and s.no_range):
            self.send_header('Accept-Ranges', 'bytes')
        self.send_header('ETag', etag)
        self.send_header('Last-Modified', last_modified)
        # Revalidate every time: fine for development, and the app's service worker caches.
        self.send_header('Cache-Control', 'no-cache')
        self.end_headers()
        if not body:
            self.record(status)
            return

        cut = s.take_cut() if is_model else None
        corrupt = s.corrupt_at if is_model else None
        rate = s.rate if is_model else None
        sent = 0
        began = time.monotonic()
        try:
            with open(file, 'rb') as f:
                f.seek(start)
                remaining = end - start + 1
                while remaining > 0:
                    block = f.read(min(256 * 1024, remaining))
                    if not block:
                        break
                    offset = start + sent
                    if corrupt is not None and offset <= corrupt < offset + len(block):
                        block = bytearray(block)
                        block[corrupt - offset] ^= 0xFF
                        block = bytes(block)
                    if cut is not None and sent + len(block) > cut:
                        self.wfile.write(block[:cut - sent])
                        sent = cut
                        self.wfile.flush()
                        # Drop the connection mid-body, as a flaky network would.
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        self.record(status, sent)
                        return
                    self.wfile.write(block)
                    sent += len(block)
                    remaining -= len(block)
                    if rate:
                        ahead = sent / rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the browser went away (an aborted download)
        self.record(status, sent)


def parse_range(header, size):
    """(start, end) for one 'bytes=' range, 'unsatisfiable', or None to ignore the header."""
    match = re.fullmatch(r'bytes=(\d*)-(\d*)', header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple or malformed ranges: serve the whole file (allowed by RFC 9110)
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or (last and int(last) < start):
            return 'unsatisfiable'
    else:
        length = int(last)
        if length == 0:
            return 'unsatisfiable'
        start, end = max(0, size - length), size - 1
    return start, end


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--port', type=int, default=8080)
    parser.add_argument('--host', default='127.0.0.1', help='keep 127.0.0.1 unless you mean to expose it')
    parser.add_argument('--models', default='smollm2', choices=['smollm2', 'gemma3', 'all'])
    parser.add_argument('--no-build', action='store_true', help='do not build the wasm module')
    parser.add_argument('--no-fetch', action='store_true', help='do not fetch models')
    parser.add_argument('--models-dir', default=MODELS, help='the folder served at /models/ (default: models/ of the repository)')
    parser.add_argument('--quiet', action='store_true', help='no request log')
    parser.add_argument('--cut-after', type=int, default=None)
    parser.add_argument('--cut-count', type=int, default=None)
    parser.add_argument('--no-range', action='store_true')
    parser.add_argument('--corrupt-at', type=int, default=None)
    parser.add_argument('--rate', type=int, default=None)
    parser.add_argument('--test-hooks', action='store_true')
    parser.add_argument('--no-isolation', action='store_true',
                        help='no COOP/COEP headers: the page is not cross-origin isolated (single-thread module)')
    args = parser.parse_args()

    if not args.no_build:
        ensure_wasm()
    if not args.no_fetch:
        ensure_models(args.models)
    os.makedirs(MODELS, exist_ok=True)
    remove_legacy_models_link()

    Handler.settings = Settings(args)
    Handler.quiet = args.quiet
    Handler.isolation = not args.no_isolation
    Handler.models = os.path.abspath(args.models_dir)
    server = Server((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    print(f'TinyLM: serving web/ at http://{host}:{port}/  (assistant: http://{host}:{port}/app/)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
