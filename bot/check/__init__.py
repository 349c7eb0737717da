"""`doorajar check`: every content rule, the story tests and the walk of every path."""
