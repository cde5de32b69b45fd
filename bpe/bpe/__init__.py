"""bpe: a byte-level BPE tokenizer from first principles."""
