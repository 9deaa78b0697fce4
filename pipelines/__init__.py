"""Magic 8 Ball voice: the speech-to-answer-to-speech stages and their glue."""
