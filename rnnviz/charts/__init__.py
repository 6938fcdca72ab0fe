"""Charts (altair, returned as Vega-Lite dicts): the unrolled run, and heatmaps of output and h_n.

The only part of rnnviz that imports altair. Marks come from the anatomy (positions), never from equal values.
"""
