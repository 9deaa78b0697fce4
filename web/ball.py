"""The ball: a Magic 8 Ball drawn with the page's own HTML and CSS, the answer appearing in its
window when it is known, and under it what the page is doing (the states of
`web/page_state.py`, with the microphone's level while it listens). Its value is what the server
has to show (`BallFace`); the question and the answer are text, for screen readers and copying.

Nothing moves while the answer is being made (an animation there costs the visitor's CPU just
when the answer is made: docs/benchmarks.md); the level bar changes ten times a second while the
microphone is open, and the answer fades in once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import gradio as gr

from web.page_state import PAGE_STATE_JS

# The template is static (the script fills it in), so Gradio never re-renders it.
BALL_HTML = """
<div class="magic8-view" data-state="ready">
  <div class="magic8-ball">
    <div class="magic8-window">
      <div class="magic8-eight" aria-hidden="true">8</div>
      <div class="magic8-die" aria-live="polite">
        <span class="magic8-die-top"></span><span class="magic8-die-left"></span><span
          class="magic8-die-right"></span>
        <span class="magic8-answer-label">The ball says:</span>
        <span class="magic8-answer"></span>
      </div>
    </div>
  </div>
  <p class="magic8-status" role="status">
    <span class="magic8-dot" aria-hidden="true"></span>
    <span class="magic8-status-text">Press Record and ask a question out loud.</span>
    <span class="magic8-level" aria-hidden="true"><span></span></span>
  </p>
  <p class="magic8-asked" hidden>You asked: <q class="magic8-question"></q></p>
  <p class="magic8-whole" aria-hidden="true" hidden></p>
</div>
"""

BALL_CSS = """
.magic8-view { display: flex; flex-direction: column; align-items: center;
  gap: var(--spacing-md); }
.magic8-ball { width: min(300px, 76vw); aspect-ratio: 1; border-radius: 50%; display: grid;
  place-items: center;
  background: radial-gradient(circle at 34% 28%, #6b6b78 0%, #24242b 18%, #08080a 55%, #000 100%);
  box-shadow: inset -14px -18px 34px rgba(0, 0, 0, 0.85), 0 14px 30px rgba(0, 0, 0, 0.3); }
.magic8-window { width: 56%; aspect-ratio: 1; border-radius: 50%; position: relative;
  display: grid; place-items: center; overflow: hidden;
  background: radial-gradient(circle at 50% 40%, #1c2f7a 0%, #0c1440 55%, #03061a 100%);
  box-shadow: inset 0 0 0 5px #2c2c34, inset 0 8px 20px rgba(0, 0, 0, 0.9); }
.magic8-eight { position: absolute; inset: 6%; border-radius: 50%; display: grid;
  place-items: center; background: radial-gradient(circle at 40% 35%, #fff 0%, #e8e8e8 70%,
  #c9c9c9 100%); color: #111; font: 700 clamp(48px, 16vw, 84px)/1 Georgia, serif; }
/* The die: a triangle whose answer wraps inside it. Two floats shaped like the triangle's
   sides narrow each line to the triangle's width at its height (below a top margin of 12%);
   the script shrinks the font until the answer fits above the tip. */
.magic8-die { position: absolute; inset: 8% 3% 10%; opacity: 0; overflow: hidden;
  text-align: center; line-height: 1.15; clip-path: polygon(0 0, 100% 0, 50% 100%);
  background: linear-gradient(180deg, #2f4fd8 0%, #1c33a6 100%); }
.magic8-die-top { display: block; height: 12%; }
.magic8-die-left, .magic8-die-right { width: 50%; height: 88%; shape-margin: 3px; }
.magic8-die-left { float: left; shape-outside: polygon(0 0, 12% 0, 100% 100%, 0 100%); }
.magic8-die-right { float: right; shape-outside: polygon(88% 0, 100% 0, 100% 100%, 0 100%); }
/* Not the theme's font: Gradio ships Source Sans Pro's semi-bold as a subset with only "A" and
   "B" in Latin, so bold capitals came out mixed. */
.magic8-answer { color: #eef2ff; text-transform: uppercase;
  font-family: system-ui, sans-serif; font-weight: 700; letter-spacing: 0.02em; }
.magic8-answer-label { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip-path: inset(50%); }
.magic8-view[data-answer] .magic8-eight, .magic8-view[data-state="thinking"] .magic8-eight
  { display: none; }
.magic8-view[data-state="thinking"] .magic8-die { opacity: 0.35; }
.magic8-view[data-answer] .magic8-die { opacity: 1; transition: opacity 0.6s ease-in; }
.magic8-status { display: flex; align-items: center; justify-content: center; flex-wrap: wrap;
  gap: var(--spacing-sm); margin: 0; min-height: 1.6em; text-align: center;
  font-size: var(--text-lg); }
.magic8-dot { width: 0.7em; height: 0.7em; border-radius: 50%;
  background: var(--body-text-color-subdued); }
.magic8-view[data-state="listening"] .magic8-dot { background: #dc2626; }
.magic8-view[data-state="thinking"] .magic8-dot { background: #d97706; }
.magic8-view[data-state="speaking"] .magic8-dot { background: #16a34a; }
.magic8-view[data-state="error"] .magic8-dot { background: #dc2626; }
.magic8-view[data-state="error"] .magic8-status-text { color: var(--error-text-color); }
.magic8-level { display: none; width: 5em; height: 0.5em; border-radius: 0.25em;
  overflow: hidden; background: var(--border-color-primary); }
.magic8-level span { display: block; height: 100%; background: #16a34a;
  transform-origin: left; transform: scaleX(0); }
.magic8-view[data-state="listening"] .magic8-level { display: inline-block; }
.magic8-asked, .magic8-whole { margin: 0; text-align: center; color: var(--body-text-color-subdued);
  overflow-wrap: anywhere; }
"""

BALL_JS = PAGE_STATE_JS + r"""
const view = element.querySelector('.magic8-view');
const statusText = view.querySelector('.magic8-status-text');
const level = view.querySelector('.magic8-level span');
const asked = view.querySelector('.magic8-asked');
const question = view.querySelector('.magic8-question');
const answer = view.querySelector('.magic8-answer');
const SAID = {ready: 'Press Record and ask a question out loud.', listening: 'Listening…',
              thinking: 'Thinking…', speaking: 'Speaking…'};
const die = view.querySelector('.magic8-die');
const whole = view.querySelector('.magic8-whole');
const SMALLEST_PX = 7;

function showAnswer(text) {
  answer.textContent = whole.textContent = text;
  whole.hidden = true;
  if (!text) { delete view.dataset.answer; return; }
  view.dataset.answer = '';
  // The largest font at which the answer fits in the triangle (each time it grows).
  let size = Math.max(SMALLEST_PX, Math.min(16, Math.floor(die.clientWidth / 10)));
  do {
    die.style.fontSize = `${size}px`;
  } while (die.scrollHeight > die.clientHeight && --size >= SMALLEST_PX);
  // Too long even in the smallest font (a chat model's 30 words): the whole of it under the ball.
  whole.hidden = die.scrollHeight <= die.clientHeight;
}

function showQuestion(text) {
  question.textContent = text;
  asked.hidden = !text;
}

onState((state, message) => {
  if (state === 'listening' && view.dataset.state !== 'listening') {
    // A new question: the last one's answer goes.
    showAnswer('');
    showQuestion('');
    level.style.transform = 'scaleX(0)';
  }
  view.dataset.state = state;
  statusText.textContent = message || SAID[state] || '';
});

document.addEventListener('magic8-level', (event) => {
  level.style.transform = `scaleX(${event.detail})`;
});

watch('value', () => {
  if (!props.value || view.dataset.state === 'listening') return;  // an old question's
  const face = JSON.parse(props.value);
  if (face.error) { announce('error', face.error); return; }
  showQuestion(face.question);
  showAnswer(face.answer);
});
"""

# A new question empties the ball's value (these scripts' return value goes to the ball), so
# that the same answer to the same question shows again: Gradio tells the ball of a value only
# when it changes.
NEW_QUESTION_JS = "() => ''"
# The same for events that start an answer without the recorder (the upload); the ball thinks.
THINKING_JS = "() => {" + PAGE_STATE_JS + "announce('thinking'); return ''; }"


@dataclass(frozen=True)
class BallFace:
    """What the server shows in the ball: the question heard and the answer so far, or an error
    in plain words."""

    question: str = ""
    answer: str = ""
    error: str = ""

    def value(self) -> str:
        """The ball component's value (JSON)."""
        return json.dumps(asdict(self))


def answer_ball() -> gr.HTML:
    """The ball component; send it `BallFace(...).value()` from the answering events."""
    return gr.HTML(
        value="", html_template=BALL_HTML, css_template=BALL_CSS, js_on_load=BALL_JS,
        elem_id="magic8-ball",
    )
