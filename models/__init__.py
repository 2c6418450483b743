"""Networks, the model store, training and evaluation, in rooms named by what they hold.

  classifier   the Classifier interface every model exposes, and top-k formatting
  readers      AudioSet release-format records -> frame arrays / tf.data batches
  tensorflow_import  TensorFlow's first import in a process: lean, and quiet unless -v
  networks/    VGGish, YAMNet, frame-level heads, ensemble layers
  store/       the model store's files, downloads, trained heads, the registry
  training/    training, ensembles, evaluation, metrics

Imports go one way: classifier, readers <- networks <- store <- training.
May use transforms/; never imports pipelines/ or runtime/.
"""
