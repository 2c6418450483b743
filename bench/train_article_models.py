"""Full training runs of the article's table and the stronger model; prints the results.

Trains every model on the complete AudioSet balanced-train embeddings (holding
out 10 % of them as the validation split that picks the epoch), then evaluates
the kept model once on the complete eval set, and prints a Markdown table:
model, epochs, training wall and CPU time, hit@1, GAP@20, mAP, mean AUC, d'.

  python bench/train_article_models.py [--assets ../shared/assets] \\
      [--runs-dir /tmp/soundscope-runs] [--cache-dir /tmp/soundscope-cache] \\
      [--only LstmModel,...] [--export] [--model-dir STORE]

Each run lives in RUNS_DIR/<name>: rerunning resumes unfinished runs and only
re-evaluates finished ones.  Equivalent `soundscope train` commands are printed
(and in docs/training.md).  Takes about an hour of CPU in total on 2 cores.
"""

import argparse
import json
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name -> TrainConfig fields beyond the common ones (see docs/training.md for why).
RUNS = {
    "logistic": dict(model="FrameLevelLogisticModel", num_epochs=100, learning_rate=0.01,
                     learning_rate_decay_examples=400000, batch_size=512,
                     select_metric="hit_at_one"),
    "dbof": dict(model="DbofModel", num_epochs=10, learning_rate=0.01,
                 learning_rate_decay_examples=400000, batch_size=256,
                 select_metric="hit_at_one",
                 model_options={"iterations": 10, "cluster_size": 1024, "hidden_size": 512}),
    "lstm": dict(model="LstmModel", num_epochs=20, learning_rate=0.001,
                 learning_rate_decay_examples=400000, batch_size=512,
                 select_metric="hit_at_one"),
    "attention": dict(model="AttentionPoolingModel", num_epochs=30, learning_rate=0.001,
                      learning_rate_decay_examples=4000000, batch_size=256,
                      select_metric="map", model_options={"hidden_units": 256}),
    "multilevel": dict(model="MultiLevelAttentionModel", num_epochs=30, learning_rate=0.001,
                       learning_rate_decay_examples=4000000, batch_size=256,
                       select_metric="map", model_options={"hidden_units": 256}),
    # The same recipes refitted on all of balanced train for the epochs the
    # validation split chose (logistic: 58, multilevel: 29); no epoch selection.
    "logistic_full": dict(model="FrameLevelLogisticModel", num_epochs=60, learning_rate=0.01,
                          learning_rate_decay_examples=400000, batch_size=512,
                          validation_fraction=0.0),
    "multilevel_full": dict(model="MultiLevelAttentionModel", num_epochs=29,
                            learning_rate=0.001, learning_rate_decay_examples=4000000,
                            batch_size=256, validation_fraction=0.0,
                            model_options={"hidden_units": 256}),
}
FLAG_OF_OPTION = {"iterations": "--iterations", "cluster_size": "--dbof-cluster-size",
                  "hidden_size": "--dbof-hidden-size", "lstm_size": "--lstm-cells",
                  "hidden_units": "--hidden-units"}


def command_line(name, run, assets, runs_dir):
  """The `soundscope train` command equivalent to a run."""
  parts = ["soundscope train", f"--train-data '{assets}/audioset/bal_train/*.tfrecord'",
           f"--model {run['model']}", f"--num-epochs {run['num_epochs']}",
           f"--learning-rate {run['learning_rate']}",
           f"--learning-rate-decay-examples {run['learning_rate_decay_examples']}",
           "--feature-names audio_embedding --feature-sizes 128",
           f"--batch-size {run['batch_size']}", "--num-classes 527",
           f"--validation-fraction {run.get('validation_fraction', 0.1)}"]
  if "select_metric" in run:
    parts.append(f"--select-metric {run['select_metric']}")
  parts += [f"{FLAG_OF_OPTION[key]} {value}"
            for key, value in run.get("model_options", {}).items()]
  parts += [f"--train-dir {runs_dir}/{name}", f"--eval-data '{assets}/audioset/eval/*.tfrecord'",
            f"--export {name}"]
  return " ".join(parts)


def main():
  from models import evaluate, heads, train
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--assets", default=str(REPO.parent / "shared" / "assets"))
  parser.add_argument("--runs-dir", default="/tmp/soundscope-runs")
  parser.add_argument("--cache-dir", default="/tmp/soundscope-cache")
  parser.add_argument("--only", default="", help="comma-separated run names")
  parser.add_argument("--export", action="store_true", help="export every head to the store")
  parser.add_argument("--model-dir", default=None, help="model store root for --export")
  args = parser.parse_args()
  names = [name for name in RUNS if not args.only or name in args.only.split(",")]
  train_glob = f"{args.assets}/audioset/bal_train/*.tfrecord"
  eval_glob = f"{args.assets}/audioset/eval/*.tfrecord"
  labels_csv = f"{args.assets}/audioset/class_labels_indices.csv"
  rows = []
  eval_data = None
  for name in names:
    run = RUNS[name]
    print(f"== {name}: {command_line(name, run, args.assets, args.runs_dir)}", file=sys.stderr)
    config = train.TrainConfig(train_data=train_glob, train_dir=os.path.join(args.runs_dir, name),
                               cache_dir=args.cache_dir, **{"validation_fraction": 0.1, **run})
    result = train.train(config, verbose=2)
    if eval_data is None:
      eval_data = train.load_data(eval_glob, config, "eval")
    model = evaluate.load_keras_model(result["model_path"])
    started = time.monotonic()
    summary, *_ = evaluate.evaluate(model, eval_data)
    summary["eval_seconds"] = time.monotonic() - started
    with open(os.path.join(config.train_dir, "eval.json"), "w") as out:
      json.dump(summary, out, indent=2, sort_keys=True)
    if args.export:
      from models import store
      root = store.ModelStore(args.model_dir).root
      heads.export_head(result["model_path"], root / name, labels_csv, name=name,
                        training={key: result[key] for key in (
                            "config", "history", "epochs_done", "steps", "chosen_epoch",
                            "best_validation", "elapsed_seconds", "cpu_seconds")},
                        metrics={"validation": result["best_validation"], "eval": summary},
                        model_class=result["model_class"])
    rows.append((name, result, summary))
  print("| model | epochs (kept) | train wall | train CPU | hit@1 | GAP@20 | mAP | AUC | d' |")
  print("|---|---|---|---|---|---|---|---|---|")
  for name, result, summary in rows:
    print(f"| {result['model_class']} | {result['epochs_done']} ({result['chosen_epoch']}) | "
          f"{result['elapsed_seconds'] / 60:.1f} min | {result['cpu_seconds'] / 60:.1f} min | "
          f"{summary['hit_at_one']:.4f} | {summary['gap']:.4f} | {summary['map']:.4f} | "
          f"{summary['mean_auc']:.4f} | {summary['d_prime']:.3f} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
