"""What exists because Gradio serves a browser: the page's recorder and its wire protocol, the
player, the HLS stream, the relay from worker threads to the async handlers, and the HTTP
guard. The answering itself is in pipelines/, which imports nothing from here."""
