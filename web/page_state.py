"""What the page's scripts share: the page's state, announced by the recorder and the player and
shown by the ball (`web/ball.py`), and the timestamps the tests and benchmarks read.

States, in the order of a question: `ready` (nothing asked yet, or the answer has been spoken),
`listening` (from the Record click; the microphone's level comes with it), `thinking` (the
recording has ended, no sound yet), `speaking` (the answer plays), and `error` (with a message in
plain words). A script announces one with `announce(state, message)`; it reaches the others as a
`magic8-state` event on the document (with `detail.state` and `detail.message`), in the same call,
so a player that must stop when the recorder starts has stopped before the recorder goes on.
The recorder announces the microphone's level (0 to 1) as `magic8-level` events.

`window.magic8Timing` holds `performance.now()` milliseconds: `clicks` (Record), `captures` (the
first audio of each recording), `stops` (Stop clicked or pause heard), `pauses` (the stops that
were a pause), `playing` (the first sound of each answer) and `silenced` (an answer stopped by a
Record click); `sent` and `recorded` (seconds of audio per recording: what the server confirmed
having, and what the microphone gave up to the stop by the audio clock), and `recording` (the
seconds of audio of the recording in progress).
"""

PAGE_STATE_JS = """
const timing = window.magic8Timing ??= {clicks: [], captures: [], stops: [], pauses: [],
  sent: [], recorded: [], playing: [], silenced: []};
const announce = (state, message = '') => document.dispatchEvent(
  new CustomEvent('magic8-state', {detail: {state, message}}));
const onState = (listener) => document.addEventListener(
  'magic8-state', (event) => listener(event.detail.state, event.detail.message));
"""
