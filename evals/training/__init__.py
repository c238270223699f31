"""The demo adapter: its training set (built from phrasings beside the suite) and its trainer."""
