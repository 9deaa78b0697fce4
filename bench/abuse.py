"""What careless and hostile visitors cost: every abuse item against a fresh `python app.py`
on a loopback port, then a soak.

    python -m bench.abuse [--soak 300]

Per item it prints the wall time, the app's CPU-seconds (less what the idle app spends in
that time, and the CPU-seconds of the `/ask` beside it), its memory (RSS) before and after (once
the item has ended and the app has had 2 s to settle), the message the visitor got, and how long
an ordinary `/ask` sent during the item took against the same `/ask` on the idle app. The soak
sends `--soak` `/ask` one after another and prints memory, threads and the files in Gradio's
cache every 25. Everything stays on 127.0.0.1; counts and times are bounded.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import soundfile as sf
from gradio_client import Client, handle_file

from pipelines.tts import PiperSpeaker, joe_voice_path
from tests.support.helpers import RecorderRoute, app_process

QUESTION = "Will I find a new job this year?"
STREAMS, STREAM_SECONDS = 10, 30.0
HLS_ANSWERS = 100  # more than web.hls.MOST_KEPT_ANSWERS
CANCELS = 5
VISITORS = 300  # more than app.SESSIONS_KEPT
TICKS = 100  # /proc's clock ticks per second on Linux
SETTLE_S = 2.0
IDLE_S = 10.0


@dataclass(frozen=True)
class Usage:
    """The app process's CPU-seconds so far, memory (MB), threads."""

    cpu_s: float
    rss_mb: float
    threads: int

    @classmethod
    def of(cls, pid: int) -> "Usage":
        """Read /proc for process `pid`."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        return cls(
            (int(fields[11]) + int(fields[12])) / TICKS,
            int(status["VmRSS"].split()[0]) / 1024,
            int(status["Threads"]),
        )


@dataclass(frozen=True)
class Item:
    """One abuse item: `run()` does it (in `requests` requests) and returns the message the
    visitor got."""

    name: str
    run: Callable[[], str]
    requests: int = 1


def error_text(call: Callable[[], object]) -> str:
    """What a gradio_client call answered: its error message, or its result in short."""
    try:
        return f"answered: {str(call())[:70]}"
    except Exception as error:  # noqa: BLE001 (the message is what we report)
        return f"{type(error).__name__}: {error}"[:160]


def timed_ask(client: Client, wav: Path) -> float:
    started = time.perf_counter()
    client.predict(handle_file(str(wav)), api_name="/ask")
    return time.perf_counter() - started


def chunk(samples: np.ndarray, offset: int, recording: str | None, rate: int = 16_000) -> dict:
    """A recorder chunk of int16 `samples`."""
    pcm = base64.b64encode(samples.astype("<i2").tobytes()).decode()
    return {"recording": recording, "offset": offset, "rate": rate, "pcm": pcm}


class Abuse:
    """The items, against the app at `url`."""

    def __init__(self, url: str, pid: int, wav: Path, workdir: Path) -> None:
        self.url = url
        self.pid = pid
        self.client = Client(url, verbose=False)
        self.recorder = RecorderRoute(url)
        self.wav = wav
        self.workdir = workdir
        speech, rate = sf.read(wav, dtype="float32")
        pause = np.zeros(int(0.8 * rate), np.float32)
        talk = np.tile(np.concatenate([speech, pause]), 20)[: int(STREAM_SECONDS * rate)]
        self.talk = (np.interp(  # what the page sends: 16 kHz int16
            np.arange(0, talk.size, rate / 16_000), np.arange(talk.size), talk
        ) * 32767).astype(np.int16)

    def read(self, text: str) -> Callable[[], str]:
        """The item: `text` sent to /read_response."""
        return lambda: error_text(lambda: self.client.predict(text, api_name="/read_response"))

    def items(self) -> list[Item]:
        read = self.read
        emoji = "".join(chr(0x1F600 + i % 80) for i in range(400))
        return [
            Item("/read_response 100 emoji", read("😀" * 100)),
            Item("/read_response 400 mixed emoji", read(emoji)),
            Item("/read_response control chars", read("Yes\x07\x1b[31m no\x0b maybe")),
            Item("/read_response NUL", read("\x00")),
            Item("/read_response punctuation only", read("?!... ,;:")),
            Item("/read_response 30 long numbers", read(" ".join(["1234567890" * 3] * 30))),
            Item("/read_response 1 MB", read("Yes. " * 200_000)),
            Item(f"1 abandoned {STREAM_SECONDS:.0f} s stream", lambda: self.abandoned_streams(1)),
            *(
                Item(
                    f"{STREAMS} abandoned {STREAM_SECONDS:.0f} s streams{again}",
                    lambda: self.abandoned_streams(STREAMS),
                    STREAMS,
                )
                for again in ("", ", again")
            ),
            Item("17 streams at once (limit 16)", self.too_many_streams),
            Item("chunk of 10 min at 48 kHz", self.huge_chunk),
            Item("empty chunk", self.empty_chunk),
            Item("sample rate change mid-stream", self.rate_change),
            Item("upload of 200 MB", self.huge_upload),
            Item("private event, made-up recording", self.private_event),
            Item("/gradio_api/file=http://… redirect", self.redirect),
            Item("/gradio_api/run/ (queue bypass)", self.run_route),
            Item("cancel an /ask_stream", self.cancel, CANCELS),
            Item(f"{HLS_ANSWERS} /ask_hls answers", self.hls_answers, HLS_ANSWERS),
            *(
                Item(f"{VISITORS} visitors, a request each{again}", self.visitors, VISITORS)
                for again in ("", ", again")
            ),
        ]

    def _stream(self, seconds: float, results: list[str]) -> None:
        route, recording, sent, step = RecorderRoute(self.url), None, 0, 1600
        end = min(self.talk.size, int(seconds * 16_000))
        began = time.perf_counter()
        while sent < end:
            reply = route.send(chunk(self.talk[sent : sent + step], sent, recording))
            if "error" in reply:
                results.append(reply["error"])
                return
            recording, sent = reply["recording"], reply["received"]
            time.sleep(max(0.0, began + sent / 16_000 - time.perf_counter()))
        results.append("streamed, never stopped")

    def abandoned_streams(self, count: int) -> str:
        results: list[str] = []
        threads = [
            threading.Thread(target=self._stream, args=(STREAM_SECONDS, results))
            for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(12)  # the app drops a recording 10 s after its last chunk
        return f"{results.count('streamed, never stopped')} streamed; {set(results)}"

    def too_many_streams(self) -> str:
        replies = [self.recorder.send(chunk(self.talk[:1600], 0, None)) for _ in range(17)]
        time.sleep(12)
        return replies[-1].get("error", "accepted")

    def huge_chunk(self) -> str:
        samples = np.zeros(48_000 * 600, np.int16)
        reply = self.recorder.send(chunk(samples, 0, None, rate=48_000))
        return reply.get("error", "accepted")[:100]

    def empty_chunk(self) -> str:
        first = self.recorder.send(chunk(self.talk[:1600], 0, None))
        reply = self.recorder.send(chunk(self.talk[:0], 1600, first["recording"]))
        return reply.get("error", f"accepted, {reply.get('received')} samples held")

    def rate_change(self) -> str:
        first = self.recorder.send(chunk(self.talk[:1600], 0, None))
        reply = self.recorder.send(chunk(self.talk[1600:6400], 1600, first["recording"], 48_000))
        return reply.get("error", "accepted")

    def huge_upload(self) -> str:
        big = self.workdir / "big.wav"
        with open(big, "wb") as file:
            file.truncate(200 * 2**20)
        with open(big, "rb") as file:
            response = httpx.post(self.url + "gradio_api/upload", files={"files": file}, timeout=60)
        big.unlink()
        return f"HTTP {response.status_code}: {response.text[:80]}"

    def private_event(self) -> str:
        response = httpx.post(
            self.url + "gradio_api/call/page_answer_recording", json={"data": []}, timeout=10
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        event = response.json()["event_id"]
        reply = httpx.get(f"{self.url}gradio_api/call/page_answer_recording/{event}", timeout=30)
        return " ".join(reply.text.split())[:120]

    def redirect(self) -> str:
        response = httpx.get(self.url + "gradio_api/file=http://example.com/", timeout=10)
        return f"HTTP {response.status_code} {response.headers.get('location', '')}"

    def run_route(self) -> str:
        body = {"data": [None], "fn_index": 0}
        response = httpx.post(self.url + "gradio_api/run/predict", json=body, timeout=10)
        return f"HTTP {response.status_code}"

    def cancel(self) -> str:
        """CANCELS /ask_stream cancelled while speaking: how long `cancel()` took, and the app's
        CPU-seconds in the second that follows the first second after it."""
        times, after = [], []
        for _ in range(CANCELS):
            job = self.client.submit(handle_file(str(self.wav)), api_name="/ask_stream")
            while job.status().code.name != "ITERATING" and not job.done():
                time.sleep(0.02)
            started = time.perf_counter()
            job.cancel()
            times.append(time.perf_counter() - started)
            time.sleep(max(0.0, started + 1.0 - time.perf_counter()))
            before = Usage.of(self.pid).cpu_s
            time.sleep(1.0)
            after.append(Usage.of(self.pid).cpu_s - before)
        return (
            f"cancel answered in {min(times):.2f}–{max(times):.2f} s ({CANCELS} jobs); app "
            f"CPU-s in the 2nd second after: {', '.join(f'{cpu:.2f}' for cpu in after)}"
        )

    def hls_answers(self) -> str:
        """HLS_ANSWERS /ask_hls in a row, from a new visitor each: how many of their playlists
        are still served at the end (Gradio kept them all), and whether each listed only its own
        answer's segments (the same seeded answer each time)."""
        playlists = []
        for _ in range(HLS_ANSWERS):  # from as many visitors (a session each)
            client = Client(self.url, verbose=False, download_files=False)
            *_, (_question, _answer, playlist) = client.submit(
                handle_file(str(self.wav)), api_name="/ask_hls"
            )
            text = httpx.get(playlist["url"], timeout=30).text
            playlists.append((playlist["url"], text.count("#EXTINF")))
        urls = {url for url, _ in playlists}
        kept = sum(httpx.get(url, timeout=10).status_code == 200 for url in urls)
        segments = sorted({count for _, count in playlists})
        return f"{kept} of {len(urls)} playlists still served; segments per answer {segments}"

    def visitors(self) -> str:
        """VISITORS new gradio_client sessions, each reading "Yes." aloud once."""
        for _ in range(VISITORS):
            list(Client(self.url, verbose=False).submit("Yes.", api_name="/read_response"))
        return "each answered"


def measure(item: Item, pid: int, client: Client, wav: Path, idle: "Idle") -> dict:
    """Run `item` with an /ask sent 1 s into it; what it cost the app, less what the idle app
    spends in that time and the /ask's CPU-seconds (as on the idle app)."""
    before, began = Usage.of(pid), time.perf_counter()
    asked: list[float] = []
    ask = threading.Thread(target=lambda: (time.sleep(1.0), asked.append(timed_ask(client, wav))))
    ask.start()
    message = item.run()
    wall = time.perf_counter() - began
    ask.join()
    time.sleep(SETTLE_S)
    after, elapsed = Usage.of(pid), time.perf_counter() - began
    return {
        "wall": wall,
        "cpu": after.cpu_s - before.cpu_s - idle.ask_cpu_s - idle.cpu_per_s * elapsed,
        "rss": (before.rss_mb, after.rss_mb),
        "ask": asked[0] / idle.ask_s,
        "message": message,
    }


@dataclass(frozen=True)
class Idle:
    """The idle app: an /ask's time and CPU-seconds, and CPU-seconds per second doing nothing."""

    ask_s: float
    ask_cpu_s: float
    cpu_per_s: float

    @classmethod
    def of(cls, pid: int, client: Client, wav: Path) -> "Idle":
        """Three /ask after a warm-up (medians), then 10 s of nothing."""
        timed_ask(client, wav)
        asks = []
        for _ in range(3):
            before = Usage.of(pid).cpu_s
            asks.append((timed_ask(client, wav), Usage.of(pid).cpu_s - before))
        before = Usage.of(pid).cpu_s
        time.sleep(IDLE_S)
        return cls(
            statistics.median(t for t, _ in asks),
            statistics.median(c for _, c in asks),
            (Usage.of(pid).cpu_s - before) / IDLE_S,
        )


def soak(pid: int, client: Client, wav: Path, count: int, cache: Path) -> list[tuple]:
    """`count` /ask in a row; (request, RSS MB, threads, files in Gradio's cache) every 25."""
    rows = []
    for index in range(1, count + 1):
        timed_ask(client, wav)
        if index % 25 == 0:
            usage = Usage.of(pid)
            files = sum(1 for path in cache.rglob("*") if path.is_file())
            rows.append((index, usage.rss_mb, usage.threads, files))
            print(f"  soak {index:>4}: {usage.rss_mb:7.1f} MB, {usage.threads} threads, "
                  f"{files} files in the cache", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak", type=int, default=300, help="/ask requests in the soak")
    parser.add_argument("--only", default="", help="run the items whose name has this text")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="magic8-abuse-"))
    cache = workdir / "gradio"
    speaker = PiperSpeaker(joe_voice_path())
    wav = workdir / "question.wav"
    sf.write(wav, np.concatenate(list(speaker.stream(QUESTION))), speaker.sample_rate)
    env = {"HF_TOKEN": None, "GRADIO_TEMP_DIR": str(cache), "MAGIC8_CACHE_MINUTES": "1"}
    # The items on a seeded app (the same answer each time, so /ask times compare) ...
    with app_process({**env, "MAGIC8_SEED": "7"}, workdir / "items.log") as (url, process):
        client = Client(url, verbose=False)
        idle = Idle.of(process.pid, client, wav)
        print(
            f"idle app: {idle.cpu_per_s:.3f} CPU-s per second; /ask {idle.ask_s:.2f} s, "
            f"{idle.ask_cpu_s:.2f} CPU-s (both taken off each item's CPU-s)"
        )
        columns = f"{'item':<38} {'time':>6} {'CPU-s':>6} {'MB before → after':>19} {'/ask':>6}"
        print(f"{columns}  message")
        worst_cpu, worst_kept, worst_ask = 0.0, 0.0, 0.0
        for item in Abuse(url, process.pid, wav, workdir).items():
            if args.only not in item.name:
                continue
            result = measure(item, process.pid, client, wav, idle)
            before, after = result["rss"]
            worst_cpu = max(worst_cpu, result["cpu"] / item.requests)
            worst_kept = max(worst_kept, after - before)
            worst_ask = max(worst_ask, result["ask"])
            print(
                f"{item.name:<38} {result['wall']:5.1f}s {result['cpu']:6.1f} "
                f"{before:7.0f} → {after:7.0f} {result['ask']:5.1f}x  {result['message']}",
                flush=True,
            )
    # ... the soak on a fresh one with a new seed per request, as people get (a new answer
    # MP3 in the cache each time, deleted after a minute).
    rows = []
    if args.soak:
        with app_process(env, workdir / "soak.log") as (url, process):
            rows = soak(process.pid, Client(url, verbose=False), wav, args.soak, cache)
    summary = (
        f"abuse: worst request {worst_cpu:.1f} CPU-s, worst item {worst_kept:+.0f} MB kept, "
        f"/ask during items at most {worst_ask:.1f}x idle"
    )
    warm = [row for row in rows if row[0] >= 100]
    if len(warm) > 1:  # memory swings by ±15 MB from one reading to the next: a fitted line
        per_100 = np.polyfit([row[0] for row in warm], [row[1] for row in warm], 1)[0] * 100
        summary += (
            f"; soak {per_100:+.1f} MB per 100 /ask after 100 (fitted), {rows[-1][2]} threads, "
            f"{rows[-1][3]} cache files at the end"
        )
    print(summary)


if __name__ == "__main__":
    main()
