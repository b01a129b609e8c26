"""The checkpoint: its byte format (``records``), the search as a journal of
operations (``journal``), crash-safe file writing (``store``), the lock that makes one
runner the only writer (``lock``), and checking and recovering a damaged
checkpoint (``recovery``)."""
