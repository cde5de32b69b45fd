"""basic_gpt: a character-level GPT grown one idea at a time."""
