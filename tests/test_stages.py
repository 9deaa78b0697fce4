"""Each stage on its own, with the real embedded models."""

from pathlib import Path

import numpy as np
import pytest

from pipelines.audio import ASR_SAMPLE_RATE, decode_question
from pipelines.errors import UserFacingError
from pipelines.llm import (
    CLASSIC_ANSWERS,
    PERSONA,
    answer_text,
    build_messages,
    classic_answer,
    clean_sentences,
    local_answerer,
    smollm2_gguf,
)
from tests.conftest import QUESTION_WORDS


def test_whisper_transcribes_a_spoken_question(ball, question_wav):
    samples = decode_question(str(question_wav), max_seconds=30)
    text = ball.backends.transcriber.transcribe(samples, ASR_SAMPLE_RATE).lower()
    for word in QUESTION_WORDS:
        assert word in text


def test_a_recording_longer_than_the_short_window_is_transcribed(ball, question_wav, tmp_path):
    import soundfile as sf

    speaker = ball.backends.speaker
    later_path = tmp_path / "later.wav"
    sf.write(later_path, np.concatenate(list(speaker.stream("Or a red car?"))), speaker.sample_rate)
    pause = np.zeros(4 * ASR_SAMPLE_RATE, np.float32)
    first, later = (decode_question(str(p), max_seconds=30) for p in (question_wav, later_path))
    long = np.concatenate([first, pause, later, pause])  # over 10 s
    text = ball.backends.transcriber.transcribe(long, ASR_SAMPLE_RATE).lower()
    assert "bicycle" in text and "red car" in text


def test_noise_is_not_transcribed(ball, tmp_path):
    import soundfile as sf

    path = tmp_path / "noise.wav"
    noise = np.random.default_rng(0).normal(0, 0.05, 3 * ASR_SAMPLE_RATE).astype(np.float32)
    sf.write(path, noise, ASR_SAMPLE_RATE)
    with pytest.raises(UserFacingError, match="didn't catch a question"):
        ball.transcribe(str(path))


@pytest.fixture(scope="module")
def smollm2():
    """A GGUF chat model through llama.cpp, as MAGIC8_LLM_GGUF gives it: SmolLM2-135M."""
    answerer = local_answerer(smollm2_gguf(), threads=2)
    assert answerer.name == "SmolLM2-135M"  # installed, not the proverb bank in its place
    return answerer


@pytest.mark.parametrize(
    "question", ["Will I find love this year?", "Should I learn to play the guitar?"]
)
def test_a_chat_model_answer_is_short_and_never_names_the_ball(smollm2, question):
    answer = answer_text(smollm2, question, seed=3)
    assert answer not in CLASSIC_ANSWERS  # the model answered; the fallback did not
    assert 1 <= len(answer.split()) <= 30
    assert "magic 8 ball" not in answer.lower()
    assert ":" not in answer


def test_a_chat_model_gives_the_same_answer_for_the_same_seed_whatever_came_before(smollm2):
    answerer = smollm2
    first = answer_text(answerer, "Is today my lucky day?", seed=11)
    answer_text(answerer, "Is today the day I finally win the lottery?", seed=3)
    assert answer_text(answerer, "Is today my lucky day?", seed=11) == first


def test_piper_streams_one_chunk_per_sentence(ball):
    speaker = ball.backends.speaker
    chunks = list(speaker.stream("The early bird gets the worm. Still waters run deep."))
    assert len(chunks) == 2
    for chunk in chunks:
        assert chunk.dtype == np.float32
        assert np.max(np.abs(chunk)) <= 1.0
        assert 0.5 < chunk.size / speaker.sample_rate < 4.0


def test_served_prompt_is_persona_then_question():
    assert build_messages("Will it snow?") == [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": "Magic 8 Ball please answer this question - Will it snow?"},
    ]


def test_local_prompt_is_persona_examples_then_question():
    messages = build_messages("Will it snow?", examples=True)
    assert messages[0]["role"] == "system" and "Magic 8 Ball" in messages[0]["content"]
    assert messages[-1] == {
        "role": "user",
        "content": "Magic 8 Ball please answer this question - Will it snow?",
    }
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * 6


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("Magic 8 Ball: The early bird gets the worm.", ["The early bird gets the worm."]),
        ("**Still waters run deep**", ["Still waters run deep."]),
        ("Yes. Maybe. No. Perhaps.", ["Yes.", "Maybe."]),
        ("time will tell, Magic eight-ball.", ["Time will tell."]),
        ("No, no no no no no", []),
        ("  :  ", []),
    ],
)
def test_reply_cleaning(raw, cleaned):
    assert list(clean_sentences([raw])) == cleaned


def test_a_sentence_comes_out_as_soon_as_it_is_complete():
    pieces = ["The early", " bird gets", " the worm.", " Still waters", " run deep.", " More."]
    consumed = []

    def arriving():
        for piece in pieces:
            consumed.append(piece)
            yield piece

    sentences = clean_sentences(arriving())
    assert next(sentences) == "The early bird gets the worm."
    assert len(consumed) == 4  # the piece that starts the next sentence shows the end
    assert list(sentences) == ["Still waters run deep."]  # two sentences at most


def test_long_reply_is_cut_to_thirty_words():
    raw = " ".join(f"w{i}" for i in range(50))
    assert len(" ".join(clean_sentences([raw])).split()) == 30


def test_classic_answer_is_one_of_twenty():
    assert len(CLASSIC_ANSWERS) == 20
    assert classic_answer(5) in CLASSIC_ANSWERS
    assert classic_answer(5) == classic_answer(5)


def test_silent_recording_is_not_transcribed(ball, tmp_path):
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(2 * 16_000, np.float32), 16_000)
    with pytest.raises(UserFacingError, match="didn't catch a question"):
        ball.transcribe(str(path))


def test_read_response_streams_mp3_chunks(ball):
    chunks = list(ball.read_response("The early bird gets the worm. Still waters run deep."))
    assert len(chunks) >= 2
    assert all(isinstance(chunk, bytes) and chunk for chunk in chunks)


def test_without_a_chat_model_the_offline_answers_come_from_the_proverb_bank(ball):
    assert ball.backends.answerer.name == "proverb bank"
    assert "proverb bank" in ball.backends.label


@pytest.mark.parametrize("ear", ["base", "moonshine"])
def test_every_local_ear_hears_a_spoken_question(ear, question_wav):
    from pipelines.backends import embedded_backends
    from pipelines.settings import Settings

    transcriber = embedded_backends(Settings.from_env({"MAGIC8_ASR": ear})).transcriber
    samples = decode_question(str(question_wav), max_seconds=30)
    text = transcriber.transcribe(samples, ASR_SAMPLE_RATE).lower()
    assert text.startswith("should i") and all(word in text for word in QUESTION_WORDS)


def test_whisper_base_is_joined_from_its_two_packages_once(tmp_path):
    from pipelines.asr import whisper_base_model_dir

    folder = Path(whisper_base_model_dir(tmp_path))
    joined = (folder / "model.bin").stat()
    assert joined.st_size > 140_000_000 and (folder / "tokenizer.json").is_file()
    assert whisper_base_model_dir(tmp_path) == str(folder)
    assert (folder / "model.bin").stat().st_mtime_ns == joined.st_mtime_ns  # not joined again
    assert [p.name for p in folder.iterdir() if p.name.startswith("tmp")] == []
