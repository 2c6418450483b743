"""Networks, the model store, training and evaluation.

  vggish        VGGish in Keras, loading the official TF1 checkpoint by name
  classifier    the Classifier interface every model exposes, and top-k formatting
  (the store, YAMNet, classifier heads, training and evaluation live beside these)

May use transforms/; never imports pipelines/ or runtime/.
"""
