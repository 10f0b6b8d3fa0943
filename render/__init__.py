"""What build.py writes besides the pages: machine-readable products and chart figures.

Pure functions from the computed figures (metrics.summary) to text; build.py writes them.
"""
