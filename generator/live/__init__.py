"""What talks to an AWS account (or the embedded local one): publish/, doctor, destroy and its regional
buckets, rehearse/.

The highest wing: only the top-level composers (render, graph, cli) may import it.
"""
