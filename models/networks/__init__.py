"""The networks: VGGish, YAMNet, the frame-level heads and what combines them.

  vggish            VGGish in Keras, loading the official TF1 checkpoint by name
  yamnet            the official YAMNet TFLite models as a Classifier
  frame_models      YouTube-8M-style frame-level heads (one builder per model)
  ensemble_layers   averaging trained heads into one, class-prior calibration
  heads             a trained head on VGGish embeddings as a Classifier
  fixed_calls       model calls of one batch shape (results independent of batching)

Use models/classifier.py and models/readers.py; never the store or training.
"""
