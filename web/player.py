"""The page's speech player (`gr.HTML` with its own JavaScript): the answer starts sounding as
soon as its first MP3 chunk arrives, and the chunks join without gaps (a MediaSource buffer
behind an `<audio>` element). Its value is JSON: the answer's stream id, the MP3 chunks so far
(base64) and whether the stream has ended. Why not the streamed `gr.Audio`: docs/design.md.

It announces `speaking` when the answer sounds and `ready` when it has been spoken (see
`web/page_state.py`). When the recorder announces `listening` (a Record click), it stops the
answer at once and drops it, with the rest of it still on its way and any answer that starts
while the microphone listens: the new question's answer is the next stream after that.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Iterable, Iterator

import gradio as gr

from web.page_state import PAGE_STATE_JS

PLAYER_JS = PAGE_STATE_JS + r"""
const audio = document.createElement('audio');
audio.id = 'magic8-speech';
audio.controls = true;
audio.style.width = '100%';
audio.hidden = true;  // until there is an answer to play
element.appendChild(audio);
let stream = null, listening = false;
const dropped = new Set();  // the streams of questions asked before the last Record click
audio.addEventListener('playing', () => {
  if (!stream || listening) return;
  if (!stream.sounded) { stream.sounded = true; timing.playing.push(performance.now()); }
  announce('speaking');
});
for (const done of ['ended', 'pause']) {  // spoken to the end, or paused by the person
  audio.addEventListener(done, () => {
    if (stream && !listening) announce('ready', 'Press Record to ask again.');
  });
}
onState((state) => {
  listening = state === 'listening';
  if (!listening || !stream) return;
  if (!audio.paused) { audio.pause(); timing.silenced.push(performance.now()); }
  dropped.add(stream.id);
  stream = null;
  audio.removeAttribute('src');
  audio.load();
});
function pump(s) {
  if (!s.buffer || s.buffer.updating) return;
  if (s.appended < s.chunks.length) {
    s.buffer.appendBuffer(s.chunks[s.appended++]);
  } else if (s.ended && s.source.readyState === 'open') {
    s.source.endOfStream();
  }
}
function open(id) {
  const s = {id, source: new MediaSource(), buffer: null, chunks: [], appended: 0,
             ended: false, sounded: false};
  s.source.addEventListener('sourceopen', () => {
    s.buffer = s.source.addSourceBuffer('audio/mpeg');
    s.buffer.mode = 'sequence';
    s.buffer.addEventListener('updateend', () => pump(s));
    pump(s);
  });
  audio.src = URL.createObjectURL(s.source);
  audio.hidden = false;
  audio.play().catch(() => {});
  stream = s;
}
watch('value', () => {
  if (!props.value) return;
  const update = JSON.parse(props.value);
  if (dropped.has(update.stream)) return;
  if (listening) { dropped.add(update.stream); return; }  // asked before the Record click
  if (!stream || stream.id !== update.stream) open(update.stream);
  for (const chunk of update.chunks.slice(stream.chunks.length)) {
    stream.chunks.push(Uint8Array.from(atob(chunk), (c) => c.charCodeAt(0)));
  }
  stream.ended = update.end;
  pump(stream);
});
"""


def speech_player() -> gr.HTML:
    """The player component; feed it the values of `player_stream(...)` from a generator."""
    return gr.HTML(value="", html_template="", js_on_load=PLAYER_JS, elem_id="magic8-player")


def player_stream(chunks: Iterable[bytes]) -> Iterator[str]:
    """The player's values for one spoken answer: after each MP3 chunk, every chunk so far
    (so a value the page misses loses nothing), and last the same with the end marked."""
    stream_id = uuid.uuid4().hex
    encoded: list[str] = []
    for chunk in chunks:
        encoded.append(base64.b64encode(chunk).decode("ascii"))
        yield json.dumps({"stream": stream_id, "chunks": encoded, "end": False})
    yield json.dumps({"stream": stream_id, "chunks": encoded, "end": True})
