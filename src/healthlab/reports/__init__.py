"""QBR reports: one client's quarter as a notebook, exported to HTML and PDF.

The data flow, module by module:

- :mod:`.quarters` parses report quarters (``2026Q3``).
- :mod:`.slicing` writes and reads one client's slice of a dataset.
- :mod:`.parameters` validates the notebook's parameters and loads the slice.
- :mod:`.content` computes every number of a report from that one client's data.
- :mod:`.figures` and :mod:`.markup` draw figures and escaped HTML fragments;
  :mod:`.sections` assembles them per report section for the notebook.
- :mod:`.export` turns the executed notebook into self-contained HTML and PDF.
- :mod:`.worker` runs one report in a fresh kernel; :mod:`.batch` renders many,
  with :mod:`.manifest` recording what was rendered and :mod:`.naming` giving
  each report a safe file name.
"""
