"""The fault suite of issue 3: a stack of its own, a steady load, one fault at a time, a verdict.

`python faults/run.py [--short]` is the entry point; the modules beside it are its parts.
"""
