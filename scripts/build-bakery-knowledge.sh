#!/usr/bin/env bash
# Rebuilds the example bakery site's knowledge file (web/examples/bakery/site-knowledge.bin)
# from its pages, the way a site owner indexes a site: `tinylm index` over the folder.
#   scripts/build-bakery-knowledge.sh [--out FILE]
# Fetches the embedding model (scripts/fetch-models.sh minilm) and builds the native CLI when
# they are missing. The file is deterministic: the same pages and embedder give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
site=web/examples/bakery
out="$site/site-knowledge.bin"
if [ "${1:-}" = "--out" ]; then out="$2"; fi
[ -f models/all-MiniLM-L6-v2.gguf ] || scripts/fetch-models.sh minilm
[ -x .build/release/tinylm ] || swift build -c release --product tinylm
# No --base-url: each page's URL is its path relative to the folder (hours.html), and the chat
# box resolves it against the knowledge file's URL, so the example works wherever it is served.
.build/release/tinylm index --embedder models/all-MiniLM-L6-v2.gguf --out "$out" --quiet "$site"
