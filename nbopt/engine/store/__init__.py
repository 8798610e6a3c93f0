"""Keeping what was measured: the results schema, the rows, the SQLite store and the caches.

- :mod:`.schema`: every column of a results row, its dtype, label and unit (one place);
- :mod:`.results`: this process's rows, recorded into the store as they are measured;
- :mod:`.database`: the SQLite results store (WAL; a row and its ``.tflite`` per transaction),
  with :mod:`.layout` (its tables and migrations) and :mod:`.repair` (a damaged file set aside);
- :mod:`.cache`: conversions keyed by content, so none is made twice;
- :mod:`.memo`: facts of a flatbuffer kept by its content hash;
- :mod:`.files`: files the user keeps, written atomically and never over an existing one.
"""
