"""A loaded model: generation, logits and perplexity with llm-quantize's own
forward pass, on any format it reads (Hugging Face, GGUF, GPTQ, AWQ,
compressed-tensors, MLX), weights kept in their stored form."""
import json
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._api import LlmQuantizeError


class Tokenizer:
    """The checkpoint's tokenizer (tokenizer.json / tokenizer.model, or the GGUF vocabulary)."""

    def __init__(self, handle):
        self._h = handle

    def encode(self, text: str, add_special_tokens: bool = False) -> List[int]:
        return self._h.encode(text, add_special_tokens)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._h.decode([int(i) for i in ids], skip_special_tokens)

    def __call__(self, text: str, add_special_tokens: bool = False) -> List[int]:
        return self.encode(text, add_special_tokens)

    @property
    def bos_token_id(self) -> Optional[int]:
        return self._h.bos_token_id

    @property
    def eos_token_id(self) -> Optional[int]:
        return self._h.eos_token_id


class Model:
    def __init__(self, handle):
        self._h = handle
        self.info = json.loads(handle.info_json())

    @property
    def vocab_size(self) -> int:
        return self._h.vocab_size

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        """float32 array [len(ids), vocab]: the logits at every position of one forward pass."""
        return _call(self._h.logits, [int(i) for i in np.asarray(ids).reshape(-1)])

    def generate(self, prompt: str, max_tokens: int = 32) -> str:
        """Greedy continuation of `prompt` (without the prompt), stopping at EOS."""
        return _call(self._h.generate, prompt, int(max_tokens))

    def generate_ids(self, ids: Sequence[int], max_tokens: int = 32) -> List[int]:
        """Greedy continuation from token ids; returns the prompt ids followed by the new ones."""
        return _call(self._h.generate_ids, [int(i) for i in ids], int(max_tokens))

    def perplexity(self, text: str, ctx: int = 512, chunks: int = 0) -> float:
        """Perplexity of `text` as `quality perplexity` computes it: windows of `ctx` tokens,
        the second half of each scored; `chunks` windows at most (0: all)."""
        return _call(self._h.perplexity, text, int(ctx), int(chunks))

    def __repr__(self) -> str:
        i = self.info
        return f"Model({i['path']!r}, format={i['format']!r}, dtype={i['dtype']!r}, parameters={i['parameters']})"


def _call(fn, *args):
    try:
        return fn(*args)
    except _core.CoreError as e:
        raise LlmQuantizeError(str(e)) from None


def load_quantized_model(path: str) -> Tuple[Model, Tokenizer]:
    """Opens a model directory or file of any format llm-quantize reads; a Hugging Face id
    ("Qwen/Qwen3-4B") is looked up in the local cache. Returns (model, tokenizer)."""
    resolved = _call(_core.resolve_model_path, str(path))
    handle = _call(_core.ModelHandle, resolved)
    return Model(handle), Tokenizer(handle)
