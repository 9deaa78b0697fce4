"""tools/convert_ct2_whisper.py: the CTranslate2 Whisper tiny.en from PyPI, as transformers."""

from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.asr import tiny_en_model_dir
from pipelines.audio import decode_question
from tools.convert_ct2_whisper import convert

SOT, NO_TIMESTAMPS, EOT = 50257, 50362, 50256  # Whisper .en special tokens


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from transformers import WhisperForConditionalGeneration

    out = convert(Path(tiny_en_model_dir()), tmp_path_factory.mktemp("whisper") / "tiny.en")
    model, info = WhisperForConditionalGeneration.from_pretrained(
        out, output_loading_info=True, torch_dtype=torch.float32
    )
    return model.eval(), info, out


def test_converted_model_loads_with_every_weight_in_place(converted):
    _model, info, _path = converted
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert info["mismatched_keys"] == []


def test_converted_model_writes_the_same_tokens_as_faster_whisper(converted, question_wav):
    import ctranslate2
    from faster_whisper import WhisperModel

    model, _info, _path = converted
    original = WhisperModel(tiny_en_model_dir(), device="cpu", compute_type="float32")
    speech = decode_question(str(question_wav), max_seconds=30)
    window = np.zeros(30 * 16_000, np.float32)
    window[: speech.size] = speech
    features = np.ascontiguousarray(original.feature_extractor(window)[None, :, :3000])
    prompt = [SOT, NO_TIMESTAMPS]

    expected = original.model.generate(
        ctranslate2.StorageView.from_array(features),
        [prompt],
        beam_size=1,
        suppress_blank=False,
        suppress_tokens=[],
        max_length=40,
    )[0].sequences_ids[0]

    tokens = torch.tensor([prompt])
    with torch.no_grad():
        encoded = model.model.encoder(torch.from_numpy(features)).last_hidden_state
        for _ in range(40 - len(prompt)):  # greedy, as CTranslate2 with beam_size=1
            logits = model(encoder_outputs=(encoded,), decoder_input_ids=tokens).logits
            token = int(logits[0, -1].argmax())
            if token == EOT:
                break
            tokens = torch.cat([tokens, torch.tensor([[token]])], dim=1)

    assert tokens[0, len(prompt) :].tolist() == expected
    assert "bicycle" in original.hf_tokenizer.decode(expected).lower()


def test_speculative_decoding_with_a_one_layer_assistant_gives_the_same_transcript(
    converted, question_wav
):
    from faster_whisper.feature_extractor import FeatureExtractor
    from tokenizers import Tokenizer

    from pipelines.asr import first_layers_assistant

    model, _info, _path = converted
    assistant = first_layers_assistant(model, layers=1)
    speech = decode_question(str(question_wav), max_seconds=30)
    window = np.zeros(30 * 16_000, np.float32)
    window[: speech.size] = speech
    features = torch.from_numpy(np.ascontiguousarray(FeatureExtractor()(window)[None, :, :3000]))

    plain = model.generate(features, max_new_tokens=40, do_sample=False, num_beams=1)
    assisted = model.generate(
        features, max_new_tokens=40, do_sample=False, num_beams=1, assistant_model=assistant
    )
    assert assisted.tolist() == plain.tolist()
    tokenizer = Tokenizer.from_file(str(Path(tiny_en_model_dir()) / "tokenizer.json"))
    assert "bicycle" in tokenizer.decode(plain[0].tolist(), skip_special_tokens=True).lower()


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_transformers_engine_transcribes_alike_with_and_without_its_assistant(
    converted, question_wav, int8
):
    from pipelines.asr import TransformersWhisperTranscriber

    _model, _info, path = converted
    speech = decode_question(str(question_wav), max_seconds=30)
    plain, assisted = (
        TransformersWhisperTranscriber(str(path), assistant, "en", "transcribe", int8=int8)
        for assistant in (None, "layers:1")
    )
    tokens, text = plain.transcribe_tokens(speech, 16_000)
    assert assisted.transcribe_tokens(speech, 16_000) == (tokens, text)
    assert "bicycle" in text.lower()
    assert assisted.name == "whisper tiny.en (transformers, assisted)"


def test_the_app_picks_the_transformers_engine_from_settings(converted):
    from pipelines.backends import embedded_backends
    from pipelines.settings import Settings

    _model, _info, path = converted
    settings = Settings.from_env(
        {"MAGIC8_ASR": "transformers", "MAGIC8_ASR_HF_MODEL": str(path), "MAGIC8_TTS": "piper"}
    )
    assert settings.asr_hf_assistant == "distil-whisper/distil-large-v3"
    transcriber = embedded_backends(settings).transcriber
    assert transcriber.name == "whisper tiny.en (transformers, assisted)"
