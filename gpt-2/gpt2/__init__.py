"""gpt2: GPT-2 from scratch: model, data pipeline, trainer."""
