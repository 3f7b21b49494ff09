"""Replay: decision policies driven over recorded or public traces with a simulated clock.

Inference autoscaling replay and the perfect-foresight oracle live in `inference*`/`oracle*` modules;
training and batch job replay in `jobs*` modules. Both call the very policy objects the live
controller calls.
"""
