// Asks the app's /ask as the README shows it, with @gradio/client from npm; prints the result
// as JSON (question, answer, the answer MP3's URL, backends). Run by tests/test_js_client.py:
//   node tests/js/ask.mjs URL question.wav
import { readFile } from "node:fs/promises";
import { Client, handle_file } from "@gradio/client";

const [url, wav] = process.argv.slice(2);
const client = await Client.connect(url);
const audio = new Blob([await readFile(wav)], { type: "audio/wav" });
const result = await client.predict("/ask", [handle_file(audio)]);
const [question, answer, mp3, details] = result.data;
console.log(JSON.stringify({ question, answer, mp3_url: mp3.url, backends: details.backends }));
process.exit(0); // the client keeps its event stream open
