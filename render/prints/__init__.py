"""Print-resolution output: paper sizes, the memory plan, per-kind print renderers and print files."""
