"""The built-in embedder (all-MiniLM-L6-v2 on tokenizers + numpy): texts/s for short, medium and long texts.

Each size is encoded a few times by `MiniLMEncoder.encode` (the gateway's `/embed` path, minus HTTP and the
cache), and its arithmetic rate is set against the machine's own: a plain numpy float32 GEMM of the model's
feed-forward shape, measured in the same run. Long texts are cut at 256 word pieces, as the reference
sentence-transformers model does.

    uv run python bench/embedding_throughput.py [--repeats 3]
"""

import argparse
import random
import statistics
import time

import numpy as np

from llm_gateway.embeddings.minilm import MiniLMEncoder

WORDS = (
    "protein cell expression gene study results patients increased analysis data significant model "
    "treatment response levels effect clinical human role associated mice activity function cancer"
).split()
SIZES = {"short (12 words)": (12, 512), "medium (60 words)": (60, 128), "long (220 words)": (220, 64)}


def texts_of(words: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(count)]


def flops_per_text(encoder: MiniLMEncoder, tokens: int) -> float:
    """Multiply-adds x 2 of one forward pass over `tokens` word pieces: dense layers plus attention."""
    dense = sum(
        layer.qkv_w.size + layer.out_w.size + layer.ff1_w.size + layer.ff2_w.size for layer in encoder.layers
    )
    attention = len(encoder.layers) * 2 * tokens * tokens * encoder.hidden  # QK^T and scores @ V
    return 2.0 * (dense * tokens + attention)


def gemm_rate(repeats: int) -> float:
    """GFLOP/s of numpy's float32 matrix product at the feed-forward's shape: this machine's ceiling here."""
    a = np.random.default_rng(0).random((8192, 384), dtype=np.float32)
    b = np.random.default_rng(1).random((384, 1536), dtype=np.float32)
    a @ b
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        rates.append(2 * 8192 * 384 * 1536 / (time.perf_counter() - started) / 1e9)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    encoder = MiniLMEncoder()
    encoder.encode(texts_of(20, 8, seed=0))  # warm-up
    ceiling = gemm_rate(args.repeats * 3)
    print(f"numpy float32 GEMM (8192x384 @ 384x1536): {ceiling:.0f} GFLOP/s\n")
    print(f"{'texts':20} {'tokens/text':>11} {'texts/s':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'of GEMM':>8}")
    for label, (words, count) in SIZES.items():
        texts = texts_of(words, count, seed=words)
        tokens = encoder.count_tokens(texts)
        rates = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            encoder.encode(texts)
            rates.append(count / (time.perf_counter() - started))
        rate = statistics.median(rates)
        per_text = statistics.mean(tokens)
        gflops = rate * statistics.mean(flops_per_text(encoder, t) for t in tokens) / 1e9
        print(
            f"{label:20} {per_text:11.0f} {rate:9.1f} {rate * per_text:9.0f} {gflops:8.1f} "
            f"{gflops / ceiling:8.0%}"
        )


if __name__ == "__main__":
    main()
