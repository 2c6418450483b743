"""Training recipes of the best heads: their members' settings and how they are averaged.

`soundscope ensemble --recipe NAME --train-data GLOB --train-dir DIR` trains
every member of ENSEMBLES[NAME] on all of --train-data (soundscope.models.training.train.TrainConfig
with the fields below; the data, directory and cache are the user's) and
averages them (models/training/ensemble.py).  bench/train_article_models.py takes these
members from here, so the measured runs of docs/experiments/training-notebook.md and
the command that reproduces them cannot drift apart.  Why each setting:
docs/experiments/training-notebook.md.
"""

# Shared by the members: Keras's mean cross-entropy, and no validation split
# (refits on all of balanced train for the epoch count their 90 % runs chose).
_REFIT = dict(validation_fraction=0.0, loss="mean", learning_rate_decay_examples=4000000,
              batch_size=256)

# Member name -> soundscope.models.training.train.TrainConfig keyword arguments.
MEMBERS = {
    # Multi-level attention (Yu et al. 2018), 256 units; its 90 % run kept epoch 29.
    "multilevel_full": dict(model="MultiLevelAttentionModel", num_epochs=29,
                            learning_rate=0.001, model_options={"hidden_units": 256}, **_REFIT),
    # A second initialisation with mixup 0.4 (chosen on validation), for diversity.
    "multilevel_mixup_full": dict(model="MultiLevelAttentionModel", num_epochs=30,
                                  learning_rate=0.001, mixup_alpha=0.4, seed=1, split_seed=0,
                                  model_options={"hidden_units": 256}, **_REFIT),
    # Two-layer MLPs on mean-pooled frames, two initialisations.
    **{f"mlp_full_s{seed}": dict(model="PooledMlpModel", num_epochs=25, learning_rate=0.001,
                                 seed=seed, split_seed=0,
                                 model_options={"hidden_units": 1024, "hidden_layers": 2},
                                 **_REFIT)
       for seed in range(2)},
    # Attention pooling at Kong et al.'s 1024 units, 10 epochs at rate 0.003 (decayed
    # 0.95 every 40,000 examples): as good inside the average as 20 epochs at 0.001.
    "attention1024_full": dict(model="AttentionPoolingModel", num_epochs=10,
                               learning_rate=0.003,
                               model_options={"hidden_units": 1024},
                               **{**_REFIT, "learning_rate_decay_examples": 40000}),
}

# Ensemble name -> members (MEMBERS keys), kind ('scores' or 'weights') and the
# class-prior shift beta, chosen on the validation split.
ENSEMBLES = {
    # The best model: eval hit@1 0.5877, mAP 0.2898; 21.0 min of training on 2 cores
    # (docs/experiments/training-notebook.md, seventh round; the sixth round's code:
    # 0.5862, 0.2907, 23.0 min).
    "ensemble_mix5": dict(members=("multilevel_full", "multilevel_mixup_full", "mlp_full_s0",
                                   "mlp_full_s1", "attention1024_full"), kind="scores",
                          beta=0.1),
    # The fourth round's best: eval hit@1 0.5842, mAP 0.2868; 12.5 min.
    "ensemble_mix": dict(members=("multilevel_full", "multilevel_mixup_full", "mlp_full_s0",
                                  "mlp_full_s1"), kind="scores", beta=0.1),
}
