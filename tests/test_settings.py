import logging

import pytest

from pipelines.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.seed is None
    assert settings.max_seconds == 30.0
    assert (settings.asr_engine, settings.tts) == ("tiny.en", "auto")
    assert settings.hf_token is None
    assert settings.threads >= 1


def test_values_are_read_and_typed():
    settings = Settings.from_env(
        {"MAGIC8_SEED": "42", "MAGIC8_MAX_SECONDS": "12.5", "MAGIC8_CHUNK_SECONDS": "2"}
    )
    assert (settings.seed, settings.max_seconds, settings.chunk_seconds) == (42, 12.5, 2.0)


@pytest.mark.parametrize(
    "env, complaint",
    [
        ({"MAGIC8_SEED": "soon"}, "MAGIC8_SEED"),
        ({"MAGIC8_MAX_SECONDS": "0"}, "between"),
        ({"MAGIC8_TTS": "espeak"}, "MAGIC8_TTS"),
        ({"MAGIC8_LLM_GGUF": "/no/such/model.gguf"}, "not a file"),
        ({"MAGIC8_LLM_URL": "localhost:8080"}, "not an http"),
        ({"MAGIC8_API_TIMEOUT": "-1"}, "between"),
        ({"MAGIC8_ASR": "whisper.cpp"}, "MAGIC8_ASR"),
        ({"MAGIC8_ASR": "faster-whisper"}, "not one of tiny.en, base, moonshine, transformers"),
        ({"MAGIC8_SPEECH_AHEAD_MB": "-1"}, "between"),
        ({"MAGIC8_ASR_TASK": "summarise"}, "MAGIC8_ASR_TASK"),
        ({"MAGIC8_ASR_INT8": "2"}, "between"),
        ({"MAGIC8_CONCURRENCY": "0"}, "between"),
        ({"MAGIC8_LLM_PROVIDER": "my-own-gpu"}, "MAGIC8_LLM_PROVIDER='my-own-gpu' is not auto"),
        ({"MAGIC8_ASR_PROVIDER": "groq"}, "MAGIC8_ASR_PROVIDER"),  # groq: chat only
        ({"MAGIC8_LLM_API_MODEL": "not a model id!"}, "not a Hugging Face model id"),
    ],
)
def test_bad_values_are_refused_at_start_up(env, complaint):
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env(env)


def test_token_never_shows_in_repr():
    settings = Settings.from_env({"HF_TOKEN": "hf_secret_value"})
    assert settings.hf_token == "hf_secret_value"
    assert "hf_secret_value" not in repr(settings)


def test_a_token_or_an_endpoint_makes_a_stage_served():
    assert not Settings.from_env({}).asr_remote
    both = Settings.from_env({"HF_TOKEN": "hf_x"})
    assert both.asr_remote and both.llm_remote
    only_llm = Settings.from_env({"MAGIC8_LLM_URL": "http://127.0.0.1:8080"})
    assert only_llm.llm_remote and not only_llm.asr_remote


def test_providers_are_auto_unless_named():
    settings = Settings.from_env({})
    assert (settings.asr_provider, settings.llm_provider) == ("auto", "auto")
    named = Settings.from_env(
        {"MAGIC8_ASR_PROVIDER": "hf-inference", "MAGIC8_LLM_PROVIDER": "featherless-ai"}
    )
    assert (named.asr_provider, named.llm_provider) == ("hf-inference", "featherless-ai")


def test_a_variable_that_is_no_setting_is_named_in_the_log(caplog):
    with caplog.at_level(logging.WARNING, logger="magic8"):
        Settings.from_env({"MAGIC8_ASR_MODEL": "base", "MAGIC8_SEEED": "1", "MAGIC8_SEED": "1"})
    assert "MAGIC8_ASR_MODEL is not a setting of this app; ignored" in caplog.text
    assert "MAGIC8_SEEED is not a setting" in caplog.text and "MAGIC8_SEED is" not in caplog.text
