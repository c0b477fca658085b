"""MICON training with Lightning: sampler and DataModule (what is fed), LightningModule (what is learned).

Import the modules directly (``micon.training.runner``); this package does not import Lightning on its own.
"""
