"""scratch: the plumbing that every package of building-from-scratch shares, written once.

    from scratch.files import cache_dir, download, atomic_write, atomic_open   # files on disk
    from scratch.shakespeare import tinyshakespeare_path, plays                 # the two Shakespeare sources
    from scratch.device import pick_device                                      # cuda > mps > cpu (needs torch)
    from scratch.plot import save_figure                                        # headless figures (needs matplotlib)

It sits at the bottom of the dependency graph: basic_gpt, bpe and gpt2 import it; it imports none of them.
"""
