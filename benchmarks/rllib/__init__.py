"""The only package that imports Ray: RLModule adapters, learners, algorithm configs.

When RLlib's API moves, only this folder moves.
"""
