"""A tiny, randomly initialised Parler-TTS of the real architecture (T5 text encoder, Parler
decoder, DAC codec), built in memory: no weights are downloaded."""

from __future__ import annotations

import torch
from parler_tts import ParlerTTSConfig, ParlerTTSDecoderConfig, ParlerTTSForConditionalGeneration
from parler_tts.dac_wrapper import DACConfig
from transformers import T5Config

CODEBOOK_SIZE = 1024
EOS = CODEBOOK_SIZE  # also the pad id
BOS = CODEBOOK_SIZE + 1
# The decoder's vocabulary is the codebook plus EOS and BOS, so every sampled token that is not
# one of those two is a valid code.
VOCAB = CODEBOOK_SIZE + 2


def tiny_parler(num_codebooks: int = 4, codec_channels: int | None = 64, seed: int = 0):
    """A tiny Parler-TTS in eval mode. `codec_channels` shrinks the DAC decoder's width for fast
    tests (its kernels, dilations and upsampling rates, hence its receptive field, stay those of
    DAC 44 kHz); None keeps the real width (1536) for realistic decode timings."""
    torch.manual_seed(seed)
    text = T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    codec = DACConfig(
        num_codebooks=num_codebooks,
        codebook_size=CODEBOOK_SIZE,
        latent_dim=32,
        frame_rate=86,
        sampling_rate=44_100,
    )
    decoder = ParlerTTSDecoderConfig(
        vocab_size=VOCAB,
        max_position_embeddings=4096,
        num_hidden_layers=1,
        ffn_dim=32,
        num_attention_heads=2,
        hidden_size=16,
        num_codebooks=num_codebooks,
        pad_token_id=EOS,
        bos_token_id=BOS,
        eos_token_id=EOS,
    )
    config = ParlerTTSConfig.from_sub_models_config(
        text, codec, decoder, decoder_start_token_id=BOS, pad_token_id=EOS, vocab_size=64
    )
    model = ParlerTTSForConditionalGeneration(config)
    if codec_channels is not None:
        from dac.model import DAC

        model.audio_encoder.model = DAC(
            n_codebooks=num_codebooks,
            latent_dim=32,
            codebook_size=CODEBOOK_SIZE,
            decoder_dim=codec_channels,
        )
    return model.eval()


def generate_kwargs(frames: int) -> dict:
    """Arguments for `generate` that make exactly `frames` codec frames of valid codes."""
    steps = frames + 4 - 1  # the delay pattern costs num_codebooks - 1 steps
    return {
        "input_ids": torch.tensor([[3, 4, 5]]),
        "prompt_input_ids": torch.tensor([[6, 7, 8, 9]]),
        "attention_mask": torch.ones(1, 3, dtype=torch.long),
        "prompt_attention_mask": torch.ones(1, 4, dtype=torch.long),
        "do_sample": True,
        "max_new_tokens": steps,
        "min_new_tokens": steps,
        "suppress_tokens": [BOS],
    }


def tiny_tokenizer():
    """A character-level tokenizer that fits the tiny model's 64-token text vocabularies."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = "abcdefghijklmnopqrstuvwxyz .,?!'"
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({character: index + 3 for index, character in enumerate(characters)})
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def save_tiny_checkpoint(folder, max_frames: int = 120) -> None:
    """Write a loadable Parler-TTS checkpoint (real-width codec, as `from_pretrained` builds it)
    with its tokenizer to `folder`; generation stops after `max_frames` codec frames."""
    model = tiny_parler(codec_channels=None)
    model.generation_config.max_length = max_frames + 4
    model.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
