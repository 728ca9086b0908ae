"""The base every stage stands on: the objects callers see, errors, settings, words and sentences, tokens,
offline switches. Imports nothing else of the package."""
