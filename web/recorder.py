"""The page's microphone (`gr.HTML` with a few lines of JavaScript): every sample from the Record
click on reaches the server, in order, while the person talks (`server.send_chunk`, every
0.1 s); with "Answer when I pause" on, the recording ends by itself at a pause. Why not Gradio's
streaming microphone, and how this works: docs/design.md.

The Record click stops everything the page plays before the microphone opens, and nothing plays
while it is open (`data-capturing` on the recorder): the recorder turns the browser's echo
cancellation off (it blurs words for Whisper), so a spoken answer would be heard as part of the
question. The click also fires the `started` event (the app cancels the last answer with it).
It announces `listening`, `thinking` and errors, and the microphone's level, to the page
(`web/page_state.py`, which also lists the timestamps it keeps in `window.magic8Timing`).
"""

from __future__ import annotations

from typing import Awaitable, Callable

import gradio as gr

from web.page_state import PAGE_STATE_JS

SEND_EVERY_MS = 100

RECORDER_HTML = """
<div class="magic8-recorder" data-max-seconds="{max_seconds}" data-pause-seconds="{pause_seconds}">
  <button class="magic8-record" type="button">● Record</button>
  <label class="magic8-hands-free"><input type="checkbox" checked> Answer when I pause</label>
</div>
"""

RECORDER_CSS = """
.magic8-recorder { display: flex; flex-wrap: wrap; align-items: center; justify-content: center;
  gap: var(--spacing-xl); padding: var(--spacing-lg) 0; }
.magic8-record { min-width: 9em; touch-action: manipulation; border: none;
  padding: var(--spacing-lg) var(--spacing-xxl); border-radius: var(--button-large-radius);
  cursor: pointer; font-weight: 600;
  font-size: var(--button-large-text-size); color: var(--button-primary-text-color);
  background: var(--button-primary-background-fill); }
.magic8-record.recording { color: white; background: #dc2626; }
.magic8-hands-free { display: flex; align-items: center; gap: var(--spacing-sm); }
"""

RECORDER_JS = (
    PAGE_STATE_JS
    + f"const SEND_EVERY_MS = {SEND_EVERY_MS};\n"
    + r"""
const root = element.querySelector('.magic8-recorder');
const button = root.querySelector('.magic8-record');
const handsFree = root.querySelector('.magic8-hands-free input');
const MAX_SECONDS = Number(root.dataset.maxSeconds);
const PAUSE_SECONDS = Number(root.dataset.pauseSeconds);
const WORKLET = `registerProcessor('magic8-capture', class extends AudioWorkletProcessor {
  constructor() { super(); this.open = true; this.port.onmessage = () => { this.open = false; }; }
  process(inputs) {
    if (inputs[0][0]) this.port.postMessage({time: currentTime, samples: inputs[0][0].slice()});
    return this.open;
  }
});`;
const MOST_PER_CALL_S = 4;  // the server takes chunks of at most 5 s
const REPLY_TIMEOUT_MS = 10000;
const LEVEL_EVERY_MS = 100;
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
let context = null, ready = null, current = null;

// The audio context and its capture module, made before they are needed: at 16 kHz where the
// browser resamples the microphone, else (`native`) at the device's own rate.
function prepare(native = false) {
  if (!ready) {
    try { context = native ? new AudioContext() : new AudioContext({sampleRate: 16000}); }
    catch (error) { context = new AudioContext(); }
    const url = URL.createObjectURL(new Blob([WORKLET], {type: 'text/javascript'}));
    ready = context.audioWorklet.addModule(url);
  }
  return ready;
}
prepare();

async function connect(rec) {  // the microphone into the capture module
  try {
    rec.source = context.createMediaStreamSource(rec.media);
  } catch (error) {  // Firefox cannot connect a microphone to a context at another rate
    context.close();
    ready = null;
    await prepare(true);
    context.resume();
    rec.source = context.createMediaStreamSource(rec.media);
  }
  rec.node = new AudioWorkletNode(context, 'magic8-capture', {numberOfOutputs: 0});
}

function show(recording, state, message = '') {
  button.textContent = recording ? '■ Stop' : '● Record';
  button.classList.toggle('recording', recording);
  announce(state, message);
}

// Nothing the page plays may reach the microphone: everything playing stops before it opens,
// and whatever starts while it is open stops at once.
function silenceThePage() {
  for (const media of document.querySelectorAll('audio, video')) media.pause();
}
document.addEventListener('play', (event) => {
  if (root.dataset.capturing) event.target.pause();
}, true);

// The microphone's level for the page, at most every LEVEL_EVERY_MS: the loudest sample, from
// -60 dBFS (nothing) to 0 dBFS (full).
function showLevel(rec, samples) {
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  rec.peak = Math.max(rec.peak, peak);
  const now = performance.now();
  if (now - rec.levelShown < LEVEL_EVERY_MS) return;
  const level = Math.min(1, Math.max(0, 1 + Math.log10(rec.peak + 1e-9) / 3));
  document.dispatchEvent(new CustomEvent('magic8-level', {detail: level}));
  rec.peak = 0;
  rec.levelShown = now;
}

async function start() {
  const rec = {id: null, sent: 0, pending: [], capturing: true, stopAt: null, failed: false,
               peak: 0, levelShown: 0};
  rec.captured = new Promise((done) => { rec.endCaptured = done; });
  // The last question is left: its recording goes, unless its answer has taken it already.
  if (current && current.id) server.drop_recording(current.id).catch(() => {});
  current = rec;
  timing.clicks.push(performance.now());
  root.dataset.capturing = 'true';
  show(true, 'listening', 'Opening the microphone…');  // the answer playing stops
  silenceThePage();
  trigger('started');
  context.resume();  // while the click still counts as the person's gesture
  try {
    await prepare();
    rec.media = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1,
      echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
    if (rec.capturing) await connect(rec);
  } catch (error) {
    endCapture(rec);
    if (current === rec) {
      show(false, 'error', `The microphone is not available (${error.message}). ` +
                           'You can upload a recording.');
    }
    return;
  }
  if (!rec.capturing) { endCapture(rec); return; }  // stopped while the microphone opened
  rec.began = context.currentTime;
  rec.node.port.onmessage = (event) => {
    if (!rec.capturing) return;
    const {time, samples} = event.data;
    if (rec.stopAt === null && time >= rec.began + MAX_SECONDS) stop(rec, false);  // the limit
    if (rec.stopAt !== null && time >= rec.stopAt) { endCapture(rec); return; }
    if (!rec.gotAudio) { rec.gotAudio = true; timing.captures.push(performance.now()); }
    rec.pending.push(samples);
    showLevel(rec, samples);
    timing.recording = time + samples.length / context.sampleRate - rec.began;
  };
  rec.source.connect(rec.node);
  show(true, 'listening', handsFree.checked ? 'Listening… I answer when you pause.'
                                            : 'Listening… press Stop when you are done.');
  rec.limit = setTimeout(() => stop(rec, false), (MAX_SECONDS + 1) * 1000);  // no audio came
  rec.sending = send(rec);
}

// The samples held so far, as int16 in base64 (they are kept until the server has them).
function take(rec) {
  let count = 0, size = 0;
  while (count < rec.pending.length && size < MOST_PER_CALL_S * context.sampleRate) {
    size += rec.pending[count++].length;
  }
  const pcm = new Int16Array(size);
  let at = 0;
  for (const piece of rec.pending.slice(0, count)) {
    for (const x of piece) pcm[at++] = Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
  }
  const bytes = new Uint8Array(pcm.buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return {count, pcm: btoa(text)};
}

async function send(rec) {
  let failures = 0;
  while (rec.capturing || rec.pending.length) {
    if (rec.pending.length) {
      const {count, pcm} = take(rec);
      const last = !rec.capturing && count === rec.pending.length;  // kept for the answer
      const reply = await Promise.race([  // no reply in time counts as none: it is sent again
        server.send_chunk(
          {recording: rec.id, offset: rec.sent, rate: context.sampleRate, pcm, last}),
        sleep(REPLY_TIMEOUT_MS),
      ]);
      if (reply && reply.error) { fail(rec, reply.error); return; }
      if (!reply) {  // the server did not answer: keep the audio and try again
        if (++failures > 20) {
          fail(rec, 'The server cannot be reached. Please try again.');
          return;
        }
        await sleep(200);
        continue;
      }
      failures = 0;
      rec.pending.splice(0, count);
      rec.id = reply.recording;
      rec.sent = reply.received;
      rec.lastSent = last;
      if (rec.stopAt === null && handsFree.checked && reply.silence_s >= PAUSE_SECONDS) {
        stop(rec, true);
      }
    }
    if (rec.capturing) await Promise.race([sleep(SEND_EVERY_MS), rec.captured]);
  }
  if (rec.id && !rec.lastSent) {  // the capture ended with nothing more to send: say it ended
    // (not waited for: the answer may take the recording first, which is just as well)
    server.send_chunk({recording: rec.id, offset: rec.sent, rate: context.sampleRate, pcm: '',
      last: true}).catch(() => {});
  }
}

function fail(rec, message) {
  rec.failed = true;
  stop(rec, false);
  endCapture(rec);
  if (current === rec) show(false, 'error', message);
}

// Stop clicked, the pause heard or the time limit reached: the recording ends with the audio of
// this moment (by the audio clock), including what is still on its way from the microphone.
function stop(rec, paused) {
  if (!rec.capturing || rec.stopAt !== null) return;
  rec.stopAt = context.currentTime;
  const now = performance.now();
  timing.stops.push(now);
  if (paused) timing.pauses.push(now);
  clearTimeout(rec.limit);
  if (current === rec) show(false, 'thinking');
  if (rec.node) setTimeout(() => endCapture(rec), 500); else endCapture(rec);
  (rec.sending || Promise.resolve()).then(() => {
    if (rec.failed) return;
    timing.sent.push(rec.sent / context.sampleRate);
    timing.recorded.push(rec.began === undefined ? 0 : rec.stopAt - rec.began);
    if (current !== rec) return;  // Record was pressed again: this question was abandoned
    if (rec.id) trigger('recorded', {recording: rec.id});
    else show(false, 'error', 'Nothing was recorded: press Record, then ask.');
  });
}

function endCapture(rec) {  // everything up to the stop has arrived: close the microphone
  rec.capturing = false;
  if (rec.source) rec.source.disconnect();
  if (rec.node) rec.node.port.postMessage('close');  // its processor ends
  if (rec.media) rec.media.getTracks().forEach((track) => track.stop());
  if (current === rec) {  // no other recording uses the context
    context.suspend();
    delete root.dataset.capturing;
  }
  rec.endCaptured();
}

button.addEventListener('click', () => {
  if (current && current.capturing && current.stopAt === null) stop(current, false); else start();
});
"""
)


def speech_recorder(
    receive_chunk: Callable[[object], Awaitable[dict]],
    drop_unanswered: Callable[[object], Awaitable[dict]],
    max_seconds: float,
    pause_seconds: float,
) -> gr.HTML:
    """The recorder component. `receive_chunk(chunk)` takes what the page sends (see
    `web.recordings.Chunk.from_page`) and replies with `ChunkReceived` or `ChunkRefused` as a
    dict; `drop_unanswered(id)` drops the last recording when Record is pressed again, if no
    answer has taken it. Listen to its `recorded` event (the event data holds the recording id)
    and its `started` event (a Record click)."""

    # What the script calls: server.send_chunk(...), server.drop_recording(...)
    async def send_chunk(chunk: object) -> dict:
        return await receive_chunk(chunk)

    async def drop_recording(recording_id: object) -> dict:
        return await drop_unanswered(recording_id)

    return gr.HTML(
        value="",
        html_template=RECORDER_HTML.format(max_seconds=max_seconds, pause_seconds=pause_seconds),
        css_template=RECORDER_CSS,
        js_on_load=RECORDER_JS,
        server_functions=[send_chunk, drop_recording],
        elem_id="magic8-recorder",
    )
