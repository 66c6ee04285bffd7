"""The measured route table of `rnncells.layers.routes` (generated; do not edit by hand).

Regenerate: python -m benchmarks.sweep --routes
"""

MACHINE = "not measured yet"

#: cell class name -> mode ("train"/"infer") -> [(batch, units, fastest route), ...]
MEASURED = {}
