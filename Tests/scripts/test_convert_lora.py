"""scripts/convert-lora.py against llama.cpp's reference adapter for SmolLM2-135M.

The reference GGUF (../shared/reference/smollm2-lora/) is written back out as the PEFT folder a
trainer would have produced (Hugging Face names and orientation, safetensors written here with
numpy); converting that folder must give the reference's keys and tensors to the byte, and
TinyLM running the result must give llama.cpp's greedy ids with that adapter.

    python3 -m pytest Tests/scripts/test_convert_lora.py
"""
from __future__ import annotations

import copy
import functools
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gguf

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "convert-lora.py"
BASE = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
REFERENCE_DIR = ROOT.parent / "shared" / "reference"
if not REFERENCE_DIR.is_dir():
    REFERENCE_DIR = Path("/work/shared/reference")
REFERENCE = REFERENCE_DIR / "smollm2-lora" / "smollm2-test-lora.gguf"
TINYLM = ROOT / ".build" / "release" / "tinylm"

pytestmark = pytest.mark.skipif(not (BASE.is_file() and REFERENCE.is_file()),
                                reason="needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-models.sh) "
                                       "and ../shared/reference/smollm2-lora")

# llama.cpp's tensor suffix -> the Hugging Face module path inside a decoder layer
HF_MODULES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
              "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
              "ffn_down": "mlp.down_proj"}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str) -> None:
    """A safetensors file: u64 header length, JSON header (padded with spaces to 8 bytes), data."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        if dtype == "F32":
            blob = np.ascontiguousarray(array, dtype="<f4").tobytes()
        elif dtype == "F16":
            blob = np.ascontiguousarray(array, dtype="<f2").tobytes()
        else:  # BF16: the upper half of each float32 (values here are exact in bfloat16)
            blob = (np.ascontiguousarray(array, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def hf_rows_from_gguf(rows: np.ndarray, head_count: int) -> np.ndarray:
    """Undo llama.cpp's q/k row order: within each head of width d, GGUF row 2i+j holds what
    Hugging Face keeps at row j·d/2 + i (rotary pairs interleaved vs split in halves)."""
    out = np.empty_like(rows)
    d = rows.shape[0] // head_count
    for h in range(head_count):
        for i in range(d // 2):
            for j in range(2):
                out[h * d + j * (d // 2) + i] = rows[h * d + 2 * i + j]
    return out


def base_head_counts() -> tuple[int, int]:
    reader = gguf.GGUFReader(BASE)
    return (int(reader.fields["llama.attention.head_count"].contents()),
            int(reader.fields["llama.attention.head_count_kv"].contents()))


def reference_as_peft() -> tuple[dict, dict[str, np.ndarray]]:
    """The reference adapter as PEFT would save it: config + tensors in HF names and layout
    (a fresh copy each call: the bad-input tests change it)."""
    config, tensors = _reference_as_peft()
    return copy.deepcopy(config), dict(tensors)


@functools.cache
def _reference_as_peft() -> tuple[dict, dict[str, np.ndarray]]:
    reader = gguf.GGUFReader(REFERENCE)
    heads, kv_heads = base_head_counts()
    tensors = {}
    for t in reader.tensors:
        base, suffix = t.name.rsplit(".", 1)
        _, block, kind, _ = base.split(".")
        array = np.array(t.data, dtype=np.float32)  # numpy (rows, columns) = ggml [columns, rows]
        if suffix == "lora_b" and kind in ("attn_q", "attn_k"):
            array = hf_rows_from_gguf(array, heads if kind == "attn_q" else kv_heads)
        part = "lora_A" if suffix == "lora_a" else "lora_B"
        tensors[f"base_model.model.model.layers.{block}.{HF_MODULES[kind]}.{part}.weight"] = array
    rank = next(iter(tensors.values())).shape[0]
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank,
              "lora_alpha": float(reader.fields["adapter.lora.alpha"].contents()),
              "target_modules": sorted({name.split(".")[-3] for name in tensors}),
              "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
              "use_dora": False, "modules_to_save": None, "rank_pattern": {}, "alpha_pattern": {},
              "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    return config, tensors


def write_peft(folder: Path, config: dict, tensors: dict[str, np.ndarray], dtype: str = "F16") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    write_safetensors(folder / "adapter_model.safetensors", tensors, dtype)
    return folder


def run_convert(folder: Path, outfile: Path, *extra: str, base: Path = BASE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(folder), "--base", str(base),
                           "--outfile", str(outfile), *extra], capture_output=True, text=True)


def reference_name() -> str:
    return str(gguf.GGUFReader(REFERENCE).fields["general.name"].contents())


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    config, tensors = reference_as_peft()
    folder = write_peft(tmp_path_factory.mktemp("peft") / "smollm2-lora", config, tensors, "F16")
    out = folder.parent / "converted.gguf"
    result = run_convert(folder, out, "--outtype", "f16", "--name", reference_name())
    assert result.returncode == 0, result.stderr
    return out


def fields(reader: gguf.GGUFReader) -> dict:
    return {k: (f.types, f.contents()) for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def test_converted_adapter_equals_llama_cpp_reference(converted):
    ours, reference = gguf.GGUFReader(converted), gguf.GGUFReader(REFERENCE)
    assert fields(ours) == fields(reference)
    assert [t.name for t in ours.tensors] == [t.name for t in reference.tensors]
    for mine, theirs in zip(ours.tensors, reference.tensors):
        assert mine.tensor_type == theirs.tensor_type == gguf.GGMLQuantizationType.F16, mine.name
        assert list(mine.shape) == list(theirs.shape), mine.name
        assert mine.data.tobytes() == theirs.data.tobytes(), mine.name
    assert converted.read_bytes() == REFERENCE.read_bytes()


@pytest.mark.parametrize("dtype", ["F32", "BF16"])
def test_f32_and_bf16_inputs(tmp_path, dtype):
    config, tensors = reference_as_peft()
    if dtype == "BF16":  # keep the values bfloat16 can hold, so the expected result is exact
        tensors = {k: (v.view(np.uint32) & 0xFFFF0000).view(np.float32) for k, v in tensors.items()}
    folder = write_peft(tmp_path / "adapter", config, tensors, dtype)
    out = tmp_path / "out.gguf"
    result = run_convert(folder, out, "--outtype", "f32")
    assert result.returncode == 0, result.stderr
    reader = gguf.GGUFReader(out)
    heads, kv_heads = base_head_counts()
    converted = {t.name: np.array(t.data) for t in reader.tensors}
    assert len(converted) == len(tensors)
    for name, array in tensors.items():
        block, module, part = name.split(".")[4], ".".join(name.split(".")[5:7]), name.split(".")[7]
        kind = next(k for k, v in HF_MODULES.items() if v == module)
        mine = converted[f"blk.{block}.{kind}.weight.{'lora_a' if part == 'lora_A' else 'lora_b'}"]
        assert mine.dtype == np.float32
        if part == "lora_B" and kind in ("attn_q", "attn_k"):
            mine = hf_rows_from_gguf(mine, heads if kind == "attn_q" else kv_heads)
        assert np.array_equal(mine, array), name


def test_embedding_adapter_is_stored_as_llama_cpp_expects(tmp_path):
    """PEFT's lora_embedding_A is rank × vocabulary; llama.cpp wants it transposed for lookups."""
    reader = gguf.GGUFReader(BASE)
    width, vocabulary = (int(d) for d in next(t for t in reader.tensors if t.name == "token_embd.weight").shape)
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, vocabulary)).astype(np.float32)
    b = rng.standard_normal((width, 4)).astype(np.float32)
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["embed_tokens"]}
    folder = write_peft(tmp_path / "embed", config,
                        {"base_model.model.model.embed_tokens.lora_embedding_A": a,
                         "base_model.model.model.embed_tokens.lora_embedding_B": b}, "F32")
    out = tmp_path / "embed.gguf"
    result = run_convert(folder, out, "--outtype", "f32")
    assert result.returncode == 0, result.stderr
    tensors = {t.name: t for t in gguf.GGUFReader(out).tensors}
    lora_a, lora_b = tensors["token_embd.weight.lora_a"], tensors["token_embd.weight.lora_b"]
    assert [int(d) for d in lora_a.shape] == [4, vocabulary]
    assert [int(d) for d in lora_b.shape] == [4, width]
    assert np.array_equal(np.array(lora_a.data), a.T)
    assert np.array_equal(np.array(lora_b.data), b)


def test_tinylm_with_converted_adapter_gives_llama_cpp_greedy_ids(converted):
    if not TINYLM.is_file():
        pytest.skip(f"{TINYLM} is not built (swift build -c release -Xswiftc -enable-testing)")
    with open(REFERENCE.parent / "scale-1.0" / "greedy.jsonl") as f:
        case = next(json.loads(line) for line in f if json.loads(line)["name"] == "fibonacci")
    with open(REFERENCE_DIR / "smollm2" / "greedy.jsonl") as f:
        without = next(json.loads(line) for line in f if json.loads(line)["name"] == "fibonacci")
    count = 16
    # the reference rule: exact ids while every step's top-1/top-2 gap is clear
    assert min(case["top1_top2_gap"][:count]) >= 0.05
    expected = case["gen_ids"][:count]
    assert expected != without["gen_ids"][:count], "the adapter should change this prompt's output"
    result = subprocess.run([str(TINYLM), "generate", "--model", str(BASE), "--lora", str(converted),
                             "--prompt-ids", json.dumps(case["prompt_ids"]), "--temperature", "0",
                             "--repeat-penalty", "1", "--ignore-eos", "--ids", "--max-tokens", str(count)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)
    assert ids == expected


# ----------------------------------------------------------------------------- bad input

def bad_case(tmp_path, change) -> subprocess.CompletedProcess:
    config, tensors = reference_as_peft()
    tensors = {k: v for k, v in tensors.items() if ".layers.0." in k}  # small and quick
    config, tensors = change(config, tensors)
    folder = write_peft(tmp_path / "bad", config, tensors, "F32")
    out = tmp_path / "bad.gguf"
    result = run_convert(folder, out)
    assert result.returncode != 0
    assert not out.exists(), "nothing is written for bad input"
    assert "Traceback" not in result.stderr
    return result


def test_lm_head_on_a_model_without_output_weight(tmp_path):
    def change(config, tensors):
        config["target_modules"].append("lm_head")
        tensors["base_model.model.lm_head.lora_A.weight"] = np.zeros((8, 576), np.float32)
        tensors["base_model.model.lm_head.lora_B.weight"] = np.zeros((49152, 8), np.float32)
        return config, tensors
    assert "has no 'output.weight'" in bad_case(tmp_path, change).stderr


def test_unknown_target_module(tmp_path):
    def change(config, tensors):
        config["target_modules"].append("c_attn")
        return config, tensors
    assert "c_attn" in bad_case(tmp_path, change).stderr


def test_layer_beyond_the_model(tmp_path):
    def change(config, tensors):
        tensors = {k.replace(".layers.0.", ".layers.30."): v for k, v in tensors.items()}
        return config, tensors
    assert "has no 'blk.30.attn_q.weight'" in bad_case(tmp_path, change).stderr


def test_rank_mismatch_between_a_and_b(tmp_path):
    def change(config, tensors):
        name = "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"
        tensors[name] = tensors[name][:, :4]
        return config, tensors
    assert "lora_A has rank 8 but lora_B has rank 4" in bad_case(tmp_path, change).stderr


def test_rank_differs_from_config(tmp_path):
    def change(config, tensors):
        config["r"] = 16
        return config, tensors
    assert "differs from the config's r = 16" in bad_case(tmp_path, change).stderr


def test_shape_that_does_not_fit_the_base(tmp_path):
    def change(config, tensors):
        name = "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight"
        tensors[name] = np.zeros((8, 1536), np.float32)
        return config, tensors
    assert "do not fit 'blk.0.attn_v.weight'" in bad_case(tmp_path, change).stderr


@pytest.mark.parametrize("peft_type", ["PREFIX_TUNING", "IA3", None])
def test_non_lora_config(tmp_path, peft_type):
    def change(config, tensors):
        config["peft_type"] = peft_type
        return config, tensors
    assert "only LoRA adapters" in bad_case(tmp_path, change).stderr


def test_truncated_safetensors(tmp_path):
    config, tensors = reference_as_peft()
    folder = write_peft(tmp_path / "cut", config, {k: v for k, v in tensors.items() if ".layers.0." in k}, "F32")
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    result = run_convert(folder, tmp_path / "cut.gguf")
    assert result.returncode != 0 and "do not fit its size or the file" in result.stderr


# ----------------------------------------------------------------------------- other architectures

def random_peft_for(model: Path, rank: int, seed: int) -> tuple[dict, dict[str, np.ndarray]]:
    """A random rank-`rank` PEFT adapter on every matrix PEFT can adapt in `model` (all seven per
    layer and the embedding), in Hugging Face orientation, from the GGUF's shapes."""
    rng = np.random.default_rng(seed)
    shapes = {t.name: [int(d) for d in t.shape] for t in gguf.GGUFReader(model).tensors}
    tensors = {}
    width, vocabulary = shapes["token_embd.weight"]
    tensors["base_model.model.model.embed_tokens.lora_embedding_A"] = rng.normal(0, 0.5, (rank, vocabulary))
    tensors["base_model.model.model.embed_tokens.lora_embedding_B"] = rng.normal(0, 0.5, (width, rank))
    block = 0
    while f"blk.{block}.attn_q.weight" in shapes:
        for kind, module in HF_MODULES.items():
            columns, rows = shapes[f"blk.{block}.{kind}.weight"]
            prefix = f"base_model.model.model.layers.{block}.{module}"
            tensors[f"{prefix}.lora_A.weight"] = rng.normal(0, 0.5, (rank, columns))
            tensors[f"{prefix}.lora_B.weight"] = rng.normal(0, 0.5, (rows, rank))
        block += 1
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank,
              "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                 "embed_tokens"]}
    return config, {k: v.astype(np.float32) for k, v in tensors.items()}


@pytest.mark.parametrize("model_name", ["llama3", "qwen2", "qwen3", "gemma3"])
def test_adapter_for_each_architecture_loads_and_changes_the_output(tmp_path, model_name):
    """The test models of Tests/models: what the converter writes passes TinyLM's adapter checks
    (llama.cpp's shape rules, embedding included) and changes what the model says."""
    model = ROOT / "Tests" / "models" / f"{model_name}.gguf"
    architecture = str(gguf.GGUFReader(model).fields["general.architecture"].contents())
    config, tensors = random_peft_for(model, rank=4, seed=len(model_name))
    folder = write_peft(tmp_path / model_name, config, tensors, "F32")
    out = tmp_path / f"{model_name}-lora.gguf"
    result = run_convert(folder, out, base=model)
    assert result.returncode == 0, result.stderr
    reader = gguf.GGUFReader(out)
    assert str(reader.fields["general.architecture"].contents()) == architecture
    assert len(reader.tensors) == len(tensors)
    if not TINYLM.is_file():
        pytest.skip(f"{TINYLM} is not built (swift build -c release -Xswiftc -enable-testing)")

    def generate(*adapter: str) -> list[int]:
        run = subprocess.run([str(TINYLM), "generate", "--model", str(model), *adapter, "--prompt-ids", "[1, 2, 3]",
                              "--temperature", "0", "--ignore-eos", "--ids", "--max-tokens", "8"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)
    assert generate("--lora", str(out)) != generate()
