"""The model store: files on disk, official downloads, and loading a classifier by kind.

  files      the store's directory layout, manifests, checksums, imports
  download   official URLs, sha256-checked, atomic
  heads      export a trained head into the store, load it back with its VGGish
  registry   find_classifier / load_classifier: a model name -> a Classifier

Uses models/networks; never training.
"""
