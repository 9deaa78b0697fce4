"""Streamed speech through the real server, at short and long chunk settings: the MP3 pieces of
`/ask_stream` and `/read_response` (the chunks the page's player gets, as files) join into
exactly the complete answer of `/ask`, and the HLS segments of `/ask_hls` into one AAC stream
as long as it."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file

from tests.support.helpers import app_server, ffmpeg_decode

AAC_RATE = 48_000  # web.hls.AdtsStreamEncoder.RATE
AAC_PRIMING = 1024  # samples of silence an AAC encoder starts with (ADTS cannot mark them)


@pytest.fixture(scope="module", params=[0.5, 2.0], ids=["0.5s-chunks", "2s-chunks"])
def seeded_server(request, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("seams") / "app.log"
    env = {"MAGIC8_SEED": "7", "MAGIC8_CHUNK_SECONDS": str(request.param), "HF_TOKEN": None}
    with app_server(env, log_path) as url:
        yield url, request.param


@pytest.fixture(scope="module")
def complete(seeded_server, question_wav) -> tuple[str, bytes]:
    """/ask's answer and its complete MP3, for the seeded question."""
    client = Client(seeded_server[0], verbose=False)
    _question, answer, mp3_path, _details = client.predict(
        handle_file(str(question_wav)), api_name="/ask"
    )
    return answer, Path(mp3_path).read_bytes()


def segment_names(playlist: list[str]) -> list[str]:
    """The segments an HLS playlist's lines list, in order."""
    return [line for line in playlist if line and not line.startswith("#")]


def assert_same_audio(streamed: bytes, complete: bytes, chunk_seconds: float, pieces: int) -> None:
    """`streamed` is `complete`: as long (±60 ms), with no gap and no click at any seam (sample
    for sample the same audio), and it came in pieces of at most `chunk_seconds`."""
    ours, reference = ffmpeg_decode(streamed), ffmpeg_decode(complete)
    rate = 22_050  # Piper's joe voice
    assert pieces >= 1 + int(reference.size / rate // chunk_seconds)  # it did stream
    assert abs(ours.size - reference.size) / rate <= 0.060
    assert np.max(np.abs(ours[: reference.size] - reference[: ours.size])) < 1e-3


def test_ask_stream_pieces_join_into_the_complete_answer(seeded_server, complete, question_wav):
    url, chunk_seconds = seeded_server
    job = Client(url, verbose=False).submit(handle_file(str(question_wav)), api_name="/ask_stream")
    updates = list(job)
    assert updates[0][2] is None  # the question comes first, before any speech
    pieces = [Path(piece).read_bytes() for _question, _answer, piece in updates if piece]
    assert updates[-1][1] == complete[0]
    assert_same_audio(b"".join(pieces), complete[1], chunk_seconds, len(pieces))


def test_read_response_pieces_join_into_the_complete_answer(seeded_server, complete):
    url, chunk_seconds = seeded_server
    job = Client(url, verbose=False).submit(complete[0], api_name="/read_response")
    pieces = [Path(piece).read_bytes() for piece in job]
    assert_same_audio(b"".join(pieces), complete[1], chunk_seconds, len(pieces))


def test_hls_segments_join_into_one_stream_as_long_as_the_answer(
    seeded_server, complete, question_wav
):
    url, chunk_seconds = seeded_server
    client = Client(url, verbose=False, download_files=False)  # the playlist's URL, as pages get it
    updates = list(client.submit(handle_file(str(question_wav)), api_name="/ask_hls"))
    playlist_url = updates[-1][2]["url"]
    # Fetched as a browser's HLS player fetches: the playlist, then each segment it lists.
    playlist = httpx.get(playlist_url, timeout=30).text.splitlines()
    names = segment_names(playlist)
    segments = [httpx.get(httpx.URL(playlist_url).join(name), timeout=30).content for name in names]
    assert "#EXT-X-ENDLIST" in playlist and len(segments) >= 2
    joined = ffmpeg_decode(b"".join(segments), AAC_RATE)
    reference = ffmpeg_decode(complete[1], AAC_RATE)
    assert abs(joined.size - AAC_PRIMING - reference.size) / AAC_RATE <= 0.060
    # No gap or click at a seam: after the encoder's priming, the joined segments are the
    # complete answer throughout, up to what AAC at 48 kHz changes (over 10 dB below it).
    aligned = joined[AAC_PRIMING : AAC_PRIMING + reference.size]
    error = aligned - reference[: aligned.size]
    assert np.sum(reference**2) > 10 * np.sum(error**2)
    listed = sum(float(line[8:].rstrip(",")) for line in playlist if line[:8] == "#EXTINF:")
    assert abs(listed - joined.size / AAC_RATE) <= 0.005


def test_every_hls_answer_lists_its_own_segments_only(seeded_server, question_wav):
    # Gradio names an answer's stream after the id() of its handler's iterator, which Python
    # reuses once an answer has ended: a later answer was appended to the ended playlist.
    client = Client(seeded_server[0], verbose=False, download_files=False)
    segments, urls = [], set()
    for _ in range(10):  # the same seeded question: the same answer each time
        *_, (_question, _answer, playlist) = client.submit(
            handle_file(str(question_wav)), api_name="/ask_hls"
        )
        lines = httpx.get(playlist["url"], timeout=30).text.splitlines()
        assert "#EXT-X-ENDLIST" in lines
        segments.append(len(segment_names(lines)))
        urls.add(playlist["url"])
    print(f"\n{10 - len(urls)} of 10 playlist URLs were an earlier answer's; segments {segments}")
    assert len(set(segments)) == 1
