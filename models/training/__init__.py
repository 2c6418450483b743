"""Training and evaluation of heads on AudioSet-format embeddings.

  train      YouTube-8M's train.py in Keras: resumable runs in a train directory
  ensemble   averaged ensembles of finished runs, and training a recipe's members
  evaluate   scoring records and writing the reports
  metrics    hit@1, GAP, AP/mAP, AUC, d'

Reads records with models/readers.py; exports through models/store.
"""
