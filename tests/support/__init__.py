"""Helpers shared by the whole suite.

fakes: FakeClock, scripted vendor transports, the simulator as a transport, config builders.
processes: the exporter and the simulator as subprocesses, free ports, waiting.
exposition: one parser for the text exposition format.
golden: compare (or, with UPDATE_GOLDEN=1, rewrite) a golden exposition.
"""
