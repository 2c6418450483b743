"""Experiment: a small head trained on YAMNet's 1024-d embeddings (yamnet_embedding.tflite,
the full-signature model) for the ten ESC-10 labels, against the esc10 label set (max of
YAMNet's AudioSet class scores), on bench_sed's held-out soundscapes.

  * training: ESC-10 fold 1 only: soundscapes (bench/soundscapes.py, seeds TRAIN_SEED+,
    both backgrounds, LEVELS_DBFS) and pure backgrounds (seeds TRAIN_BG_SEED+) as
    negatives.  A frame (0.975 s window every 0.48 s, the classifier's windows) is
    labelled with every label whose true event overlaps the frame's middle half
    (0.244-0.731 s of the window: what `bounds: centre` makes it stand for).
  * heads: standardised embedding -> one logistic regression per label (lr), the same
    with the log of the window's RMS level appended (lr_rms), or with the logits of the
    classifier's esc10 label scores appended (lr_base), a one-hidden-layer MLP (mlp);
    and a control without the embedding (cal: label-score logits, log RMS and their
    products).  The L2 strength is chosen by frame-level mean average precision on
    the fold-1 tuning soundscapes scored out of clip (--tuning cv, the default: 4
    heads each trained without one group of fold-1 freesound sources, each window
    scored by the head that never saw its clip), and the event rules are tuned on
    those out-of-clip scores; the head evaluated is then trained on all of fold 1.
  * event rules: transforms/events.py detect_each over a small grid (centre bounds,
    compete 0 or 0.75), tuned on fold-1 soundscapes of other seeds (TUNE_SEED+), each
    label its own best event F1 + segment F1 with no false event on 20 min of fold-1
    tuning background (seed TUNE_BG_SEED); also the best shared rule.
  * evaluation: exactly bench/bench_sed.py's soundscapes (folds 2-5, minutes 1 2 5 10,
    seed 100 numbering; per level seed 200, folds[:2], minutes[:2]; 30 min of each
    background, S.background(300, ...)), the head and the baseline (esc10 label set, its
    own rules, classify's scoring path) on the same windows.

Embeddings, classifier label scores and window levels are cached in HEADEXP_DIR
(default /tmp/headexp).

  PYTHONPATH=. nice -n 19 python3 bench/experiments/yamnet_head_probe.py [--heads lr lr_rms mlp]
"""

import argparse
import itertools
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from bench import bench_sed  # noqa: E402
from bench import soundscapes as S  # noqa: E402
from bench.experiments import events_tuning as T  # noqa: E402
from soundscope.configs import events as E  # noqa: E402
from soundscope.configs.events import EventRules  # noqa: E402

HOME = pathlib.Path(os.environ.get("HEADEXP_DIR", "/tmp/headexp"))
CACHE = HOME / "cache"
TRAIN_FOLD = 1
TRAIN_SEED, TRAIN_MINUTES, TRAIN_REPEATS = 5000, (10, 10, 10, 5, 5, 2, 2, 1), 1
TRAIN_BG_SEED, TRAIN_BG_MINUTES = 7000, 10
TUNE_SEED, TUNE_MINUTES, TUNE_REPEATS = 6000, (1, 2, 5, 10), 2
TUNE_BG_SEED, TUNE_BG_MINUTES = 8000, 10
EVAL_FOLDS, EVAL_MINUTES, EVAL_BG_MINUTES = (2, 3, 4, 5), (1, 2, 5, 10), 30.0
ENTERS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
EXIT_FRACTIONS = (0.5, 1.0)
MERGE_GAPS = (1.0, 2.0, 3.0)
MIN_DURATIONS = (0.0, 0.958)         # any; two windows by their centres (events_tuning).
COMPETES = (0.0, 0.75)
CV_GROUPS = 4                        # Fold-1 clip groups (by freesound source) for --tuning cv.
RMS_FLOOR_DBFS = -100.0              # Digital silence's log level (a feature, not a rule).

TIMES = {"classifier": 0.0, "embedding": 0.0, "audio": 0.0}
ALIGN = {"items": 0, "frame_mismatch": 0, "corr0": [], "corr_shift": []}


# ---------------------------------------------------------------- features, cached

def window_rms_dbfs(waveform, starts, ends, rate=S.RATE):
  """float32 [w] RMS level of each window's real samples, dBFS (floor RMS_FLOOR_DBFS)."""
  square = np.concatenate([[0.0], np.cumsum(np.asarray(waveform, np.float64) ** 2)])
  first = np.clip(np.rint(starts * rate).astype(np.int64), 0, waveform.size)
  last = np.clip(np.rint(ends * rate).astype(np.int64), 0, waveform.size)
  mean = (square[last] - square[first]) / np.maximum(last - first, 1)
  return np.maximum(10.0 * np.log10(mean + 1e-30), RMS_FLOOR_DBFS).astype(np.float32)


def _row_corr(a, b):
  a = a - a.mean(axis=1, keepdims=True)
  b = b - b.mean(axis=1, keepdims=True)
  return np.sum(a * b, axis=1) / np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1) + 1e-30)


class Features:
  """Per-window features of soundscapes, cached as .npz under CACHE."""

  def __init__(self, classifier, resolved):
    self.classifier, self.resolved = classifier, resolved
    CACHE.mkdir(parents=True, exist_ok=True)

  def item(self, key, make):
    """{'starts', 'ends', 'base' [w, L], 'emb' [w, 1024], 'rms' [w], 'truth', 'seconds',
    'window_seconds'} of the waveform make() -> (waveform, truth)."""
    path = CACHE / f"{key}.npz"
    if path.exists():
      data = np.load(path)
      out = {name: data[name] for name in ("starts", "ends", "base", "emb", "rms")}
      meta = json.loads(str(data["meta"]))
      out.update(truth=[tuple(e) for e in meta["truth"]], seconds=meta["seconds"],
                 window_seconds=meta["window_seconds"])
      return out
    from soundscope.models import label_sets
    from soundscope.models import scoring
    waveform, truth = make()
    started = time.perf_counter()
    raw = scoring.score_waveform(self.classifier, waveform, per_window=True)
    TIMES["classifier"] += time.perf_counter() - started
    started = time.perf_counter()
    full = self.classifier.embeddings(waveform)
    TIMES["embedding"] += time.perf_counter() - started
    TIMES["audio"] += waveform.size / S.RATE
    windows = label_sets.relabel(raw, self.resolved).windows
    starts, ends = windows.starts, windows.ends
    ALIGN["items"] += 1
    if full.embeddings.shape[0] != starts.size or not np.allclose(full.starts, starts):
      ALIGN["frame_mismatch"] += 1
      print(f"  ALIGNMENT: {key}: {full.embeddings.shape[0]} frames, {starts.size} windows")
    count = min(full.scores.shape[0], starts.size)
    ALIGN["corr0"].append(np.median(_row_corr(raw.windows.scores[:count], full.scores[:count])))
    ALIGN["corr_shift"].append(np.median(_row_corr(raw.windows.scores[1:count],
                                                   full.scores[:count - 1])))
    framing = self.classifier.framing
    window_seconds = framing.span_samples / S.RATE
    out = {"starts": starts, "ends": ends, "base": np.asarray(windows.scores, np.float32),
           "emb": full.embeddings[:starts.size].astype(np.float32),
           "rms": window_rms_dbfs(waveform, starts, ends)}
    meta = {"truth": [list(e) for e in truth], "seconds": waveform.size / S.RATE,
            "window_seconds": window_seconds}
    np.savez(path, meta=json.dumps(meta), **out)
    out.update(truth=[tuple(e) for e in truth], seconds=meta["seconds"],
               window_seconds=window_seconds)
    return out

  def soundscape(self, seed, minutes, fold, kind, levels):
    key = f"scape_f{fold}_s{seed}_m{minutes:g}_{kind}_" + "_".join(f"{l:g}" for l in levels)
    def make():
      waveform, _, truth = S.make_soundscape(seed, minutes, fold, kind, levels)
      return waveform, truth
    item = self.item(key, make)
    item.update(kind=kind, seed=seed, minutes=minutes, fold=fold, levels=tuple(levels))
    return item

  def background(self, seed, seconds, kind):
    item = self.item(f"bg_s{seed}_{seconds:g}_{kind}", lambda: (S.background(seed, seconds,
                                                                              kind), []))
    item["kind"] = kind
    return item


def bench_sed_items(features, folds, minutes, levels, seed=100):
  """bench_sed.run's soundscapes (same numbering)."""
  return [features.soundscape(seed + number, length, fold, kind, levels)
          for number, (fold, length, kind) in enumerate(itertools.product(folds, minutes,
                                                                          S.BACKGROUNDS))]


def fold_items(features, fold, minutes, repeats, seed):
  return [features.soundscape(seed + number, length, fold, kind, S.LEVELS_DBFS)
          for number, (_, length, kind) in enumerate(itertools.product(range(repeats), minutes,
                                                                       S.BACKGROUNDS))]


# ---------------------------------------------------------------- clip groups (CV)

def clip_groups(fold, count):
  """{file name: group in [0, count)}: each label's clips split by their freesound source
  (the id in 'fold-source-take-target'), largest sources first into the emptiest group."""
  by_label = {}
  for category, file_name in S.fold_clips(fold):
    by_label.setdefault(category, {}).setdefault(file_name.split("-")[1], []).append(file_name)
  groups = {}
  for sources in by_label.values():
    sizes = [0] * count
    for source in sorted(sources, key=lambda k: (-len(sources[k]), k)):
      group = int(np.argmin(sizes))
      sizes[group] += len(sources[source])
      for file_name in sources[source]:
        groups[file_name] = group
  return groups


def placed_clips(seed, minutes, fold, levels, gap_seconds=S.GAP_SECONDS):
  """[(file name, start, end)] seconds of the whole clips make_soundscape places (its
  random draws replayed without the audio)."""
  rng = np.random.default_rng([seed, fold])
  total = int(round(minutes * 60.0 * S.RATE))
  clips = S.fold_clips(fold)
  order = rng.permutation(len(clips))
  out, position, placed = [], 0.0, 0
  while True:
    position += rng.uniform(*gap_seconds)
    _, file_name = clips[order[placed % len(clips)]]
    size = S.clip_audio(file_name).size
    first = int(round(position * S.RATE))
    if first + size > total:
      break
    rng.choice(levels)
    out.append((file_name, first / S.RATE, (first + size) / S.RATE))
    position = (first + size) / S.RATE
    placed += 1
  return out


def window_groups(item, groups):
  """int [w]: the group of the clip whose whole span a window overlaps, -1 for none
  (clips are 2 s apart or more, so a 0.975 s window meets at most one)."""
  clips = placed_clips(item["seed"], item["minutes"], item["fold"], item["levels"])
  if len(clips) != len(item["truth"]) or any(
      abs(start - t[1]) > 5.0 or start > t[1] for (_, start, _), t in zip(clips, item["truth"])):
    raise AssertionError("placed_clips does not replay make_soundscape")
  out = np.full(item["starts"].size, -1, np.int64)
  for file_name, start, end in clips:
    out[(item["starts"] < end) & (item["starts"] + item["window_seconds"] > start)] = \
        groups[file_name]
  return out


class CrossValidated:
  """count heads, head k trained without the frames of group k's clips; scores a fold-1
  item with, per window, the head that never saw its clip (the mean of all for windows
  of background only)."""

  def __init__(self, make, train, train_bg, labels, groups, count, with_rms):
    self.heads, self.groups, self.count = [], groups, count
    x, y = stacked(train + train_bg, labels, with_rms)
    where = np.concatenate([window_groups(item, groups) for item in train]
                           + [np.full(item["starts"].size, -1) for item in train_bg])
    for k in range(count):
      keep = where != k
      self.heads.append(make().fit(x[keep], y[keep]))
    self._cache = {}

  def scores(self, item):
    key = id(item)
    if key not in self._cache:
      where = window_groups(item, self.groups) if "seed" in item else \
          np.full(item["starts"].size, -1)
      each = np.stack([head.scores(item) for head in self.heads])
      out = each.mean(axis=0)
      for k in range(self.count):
        out[where == k] = each[k][where == k]
      self._cache[key] = out.astype(np.float32)
    return self._cache[key]


# ---------------------------------------------------------------- frames and heads

def frame_labels(item, labels):
  """float32 [w, L]: 1 where a true event of the label overlaps the window's middle half."""
  quarter = (1.0 - E.CENTRE_FRACTION) / 2.0 * item["window_seconds"]
  first, last = item["starts"] + quarter, item["starts"] + item["window_seconds"] - quarter
  targets = np.zeros((item["starts"].size, len(labels)), np.float32)
  index = {label: i for i, label in enumerate(labels)}
  for label, start, end in item["truth"]:
    targets[(first < end) & (last > start), index[label]] = 1.0
  return targets


def inputs(item, with_rms):
  if with_rms == "base":
    return inputs_base(item)
  if with_rms == "cal":
    return inputs_calibration(item)
  x = item["emb"].astype(np.float64)
  if with_rms:
    x = np.concatenate([x, item["rms"][:, None].astype(np.float64)], axis=1)
  return x


def stacked(items, labels, with_rms):
  return (np.concatenate([inputs(item, with_rms) for item in items]),
          np.concatenate([frame_labels(item, labels) for item in items]))


def logit(p):
  p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
  return np.log(p / (1 - p))


def inputs_base(item):
  """The embedding with the logits of the classifier's esc10 label scores appended."""
  return np.concatenate([item["emb"].astype(np.float64), logit(item["base"])], axis=1)


def inputs_calibration(item):
  """No embedding (a control): the logits of the classifier's esc10 label scores, the
  window's log RMS level and their products (a level-dependent recalibration)."""
  base, level = logit(item["base"]), item["rms"][:, None].astype(np.float64) / 10.0
  return np.concatenate([base, level, base * level], axis=1)


class LogisticHead:
  """Standardised inputs -> one L2 logistic regression per label."""

  def __init__(self, c, with_rms):
    self.c, self.with_rms = c, with_rms

  def fit(self, x, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    self.scaler = StandardScaler().fit(x)
    z = self.scaler.transform(x)
    self.models = [LogisticRegression(C=self.c, max_iter=3000).fit(z, y[:, j])
                   for j in range(y.shape[1])]
    return self

  def scores(self, item):
    z = self.scaler.transform(inputs(item, self.with_rms))
    return np.stack([m.predict_proba(z)[:, 1] for m in self.models], axis=1).astype(np.float32)


class MlpHead:
  """Standardised inputs -> one hidden ReLU layer -> L sigmoids (sklearn MLPClassifier)."""

  def __init__(self, hidden, alpha, with_rms):
    self.hidden, self.alpha, self.with_rms = hidden, alpha, with_rms

  def fit(self, x, y):
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    self.scaler = StandardScaler().fit(x)
    self.model = MLPClassifier((self.hidden,), alpha=self.alpha, max_iter=60,
                               early_stopping=True, validation_fraction=0.1, random_state=0)
    self.model.fit(self.scaler.transform(x), y.astype(np.int64))
    return self

  def scores(self, item):
    z = self.scaler.transform(inputs(item, self.with_rms))
    return self.model.predict_proba(z).astype(np.float32)


HEADS = {
    "lr": [("C=0.001", lambda: LogisticHead(0.001, False)),
           ("C=0.01", lambda: LogisticHead(0.01, False)),
           ("C=0.1", lambda: LogisticHead(0.1, False)),
           ("C=1", lambda: LogisticHead(1.0, False))],
    "lr_rms": [("C=0.01", lambda: LogisticHead(0.01, True)),
               ("C=0.1", lambda: LogisticHead(0.1, True)),
               ("C=1", lambda: LogisticHead(1.0, True))],
    "lr_base": [("C=0.001", lambda: LogisticHead(0.001, "base")),
                ("C=0.01", lambda: LogisticHead(0.01, "base")),
                ("C=0.1", lambda: LogisticHead(0.1, "base")),
                ("C=1", lambda: LogisticHead(1.0, "base"))],
    "cal": [("C=0.01", lambda: LogisticHead(0.01, "cal")),
            ("C=0.1", lambda: LogisticHead(0.1, "cal")),
            ("C=1", lambda: LogisticHead(1.0, "cal"))],
    "mlp": [("256, alpha 1e-2", lambda: MlpHead(256, 1e-2, False))],
}


def frame_map(head, items, labels):
  """Mean over labels of the frame-level average precision of head.scores."""
  from sklearn.metrics import average_precision_score
  y = np.concatenate([frame_labels(item, labels) for item in items])
  p = np.concatenate([head.scores(item) for item in items])
  return float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in range(len(labels))]))


# ---------------------------------------------------------------- events and scores

def scored(item, scores):
  """events_from_scores' input: (starts, ends, scores [w, L], window seconds)."""
  return item["starts"], item["ends"], scores, item["window_seconds"]


def pairs_of(items, score_of, labels, rules):
  return [(item["truth"], S.events_from_scores(scored(item, score_of(item)), labels, rules),
           item["seconds"], item["kind"]) for item in items]


def tune_rules(tune_items, tune_bgs, score_of, labels):
  """(per-label rules tuple, best shared EventRules, its fold-1 result) over the grid;
  scores of each item computed once."""
  cached = [(item["truth"], scored(item, score_of(item)), item["seconds"]) for item in tune_items]
  backgrounds = [scored(item, score_of(item)) for item in tune_bgs]
  table = {}
  for compete, enter, fraction, gap, duration in itertools.product(
      COMPETES, ENTERS, EXIT_FRACTIONS, MERGE_GAPS, MIN_DURATIONS):
    rules = EventRules(enter=enter, exit=round(enter * fraction, 4), merge_gap_seconds=gap,
                       min_duration_seconds=duration, bounds=E.BOUNDS_CENTRE, compete=compete)
    table[rules] = T.measure(rules, cached, backgrounds, labels)
  shared = [(r["event_f1"] + r["segment_f1"], rules) for rules, (r, false) in table.items()
            if sum(false.values()) == 0]
  best_shared = max(shared, key=lambda s: s[0])[1]
  r = table[best_shared][0]
  print(f"  best shared rule (no false event): {describe(best_shared)}: fold-1 tuning event F1 "
        f"{r['event_f1']:.3f}, segment F1 {r['segment_f1']:.3f}")
  own = []
  for label in labels:
    candidates = [(sum(T.class_f1(result, label)), -rules.enter, rules)
                  for rules, (result, false) in table.items() if false[label] == 0]
    best = max(candidates, key=lambda c: c[:2])[2]
    event_f1, segment_f1 = T.class_f1(table[best][0], label)
    print(f"    {label:15s} {describe(best)}: event F1 {event_f1:.3f}, segment F1 "
          f"{segment_f1:.3f}")
    own.append(best)
  own = tuple(own)
  pairs = [(truth, S.events_from_scores(s, labels, own), seconds) for truth, s, seconds in cached]
  result = S.evaluate(pairs, labels)
  false = sum(T.false_events(own, backgrounds, labels).values())
  print(f"  per-label rules on fold-1 tuning: event F1 {result['event_f1']:.3f}, segment F1 "
        f"{result['segment_f1']:.3f}, false events {false} in "
        f"{TUNE_BG_MINUTES * len(backgrounds)} min")
  return own, best_shared, result


def describe(rules):
  return (f"enter {rules.enter:g} exit {rules.exit:g} merge {rules.merge_gap_seconds:g} "
          f"min_dur {rules.min_duration_seconds:g} compete {rules.compete:g}")


def report_line(name, pairs, labels):
  return bench_sed.report(name, pairs, labels, indent="  ")


def full_report(name, score_of, rules, evaluation, labels):
  """bench_sed's printout for one scorer and its rules."""
  main, per_level, backgrounds = evaluation
  print(f"=== {name}")
  pairs = pairs_of(main, score_of, labels, rules)
  result = report_line("all", pairs, labels)
  for kind in S.BACKGROUNDS:
    report_line(f"background {kind}", [p for p in pairs if p[3] == kind], labels)
  for level, items in per_level:
    report_line(f"level {level:g} dBFS only", pairs_of(items, score_of, labels, rules), labels)
  print("  per label (all):")
  bench_sed.print_per_label(result, labels, indent="    ")
  for item in backgrounds:
    found = S.events_from_scores(scored(item, score_of(item)), labels, rules)
    print(f"  false events on {EVAL_BG_MINUTES:g} min of {item['kind']}: {len(found)} "
          f"({len(found) * 10.0 / EVAL_BG_MINUTES:.2f} per 10 min) {found[:3]}")
  return result


# ---------------------------------------------------------------- main

def check_alignment(classifier, waveform):
  """Frame i of the full-signature model on the whole waveform against the same model run
  on the classifier's window i alone (frame_windows): which neighbouring frame matches."""
  from soundscope.models.networks import yamnet
  windows = yamnet.frame_windows(waveform)
  full = classifier.embeddings(waveform).embeddings
  print(f"alignment: {windows.shape[0]} classifier windows, {full.shape[0]} embedding frames")
  for i in (0, 1, 40, windows.shape[0] // 2, windows.shape[0] - 2):
    alone = classifier.embeddings(np.array(windows[i])).embeddings
    distances = {shift: float(np.max(np.abs(full[i + shift] - alone[0])))
                 for shift in (-1, 0, 1) if 0 <= i + shift < full.shape[0]}
    print(f"  window {i}: {alone.shape[0]} frame(s) alone; max |diff| to full-run frame "
          f"i-1/i/i+1: " + ", ".join(f"{k:+d}: {v:.2e}" for k, v in distances.items()))

def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--heads", nargs="+", default=["lr", "lr_rms", "lr_base", "mlp"],
                      choices=HEADS)
  parser.add_argument("--tuning", choices=("cv", "same"), default="cv",
                      help="choose the head's setting and tune the event rules on fold-1 "
                      "soundscapes scored by heads that never saw their clips (cv: "
                      f"{CV_GROUPS} groups of freesound sources), or by the final head "
                      "(same: it was trained on the same 80 clips)")
  args = parser.parse_args()
  from soundscope.models import label_sets
  started = time.perf_counter()
  print(f"start: load average {os.getloadavg()}")
  with tempfile.TemporaryDirectory() as model_dir:
    classifier = S.yamnet_classifier(model_dir)
    resolved = label_sets.for_classifier("esc10", classifier)
    labels = list(resolved.labels)
    base_rules = label_sets.event_rules(resolved, EventRules())
    features = Features(classifier, resolved)
    train = fold_items(features, TRAIN_FOLD, TRAIN_MINUTES, TRAIN_REPEATS, TRAIN_SEED)
    train_bg = [features.background(TRAIN_BG_SEED + i, TRAIN_BG_MINUTES * 60.0, kind)
                for i, kind in enumerate(S.BACKGROUNDS)]
    tune = fold_items(features, TRAIN_FOLD, TUNE_MINUTES, TUNE_REPEATS, TUNE_SEED)
    tune_bg = [features.background(TUNE_BG_SEED + i, TUNE_BG_MINUTES * 60.0, kind)
               for i, kind in enumerate(S.BACKGROUNDS)]
    main_items = bench_sed_items(features, EVAL_FOLDS, EVAL_MINUTES, S.LEVELS_DBFS)
    per_level = [(level, bench_sed_items(features, EVAL_FOLDS[:2], EVAL_MINUTES[:2], (level,),
                                         seed=200)) for level in S.LEVELS_DBFS]
    eval_bg = [features.background(300, EVAL_BG_MINUTES * 60.0, kind) for kind in S.BACKGROUNDS]
    # The cached baseline path is classify's (S.detect_events) on one soundscape.
    fold, length, kind = EVAL_FOLDS[0], EVAL_MINUTES[0], S.BACKGROUNDS[0]
    waveform, _, _ = S.make_soundscape(100, length, fold, kind, S.LEVELS_DBFS)
    direct = S.detect_events(classifier, resolved, waveform, EventRules())
    cached = S.events_from_scores(scored(main_items[0], main_items[0]["base"]), labels,
                                  base_rules)
    print(f"baseline from cache == S.detect_events on soundscape 100: {direct == cached} "
          f"({len(direct)} events)")
    check_alignment(classifier, waveform)
  print(f"features ready: {time.perf_counter() - started:.0f} s")
  if TIMES["audio"]:
    minutes = TIMES["audio"] / 60.0
    print(f"extraction this run: {minutes:.0f} min of audio; classifier "
          f"{TIMES['classifier'] / minutes:.2f} s/min, embedding model "
          f"{TIMES['embedding'] / minutes:.2f} s/min")
  if ALIGN["items"]:
    print(f"alignment (items extracted this run: {ALIGN['items']}): frame-count mismatches "
          f"{ALIGN['frame_mismatch']}; median per-window correlation of the two models' 521 "
          f"scores: same index {np.median(ALIGN['corr0']):.3f}, shifted by one "
          f"{np.median(ALIGN['corr_shift']):.3f}")
  frames_train = sum(i["starts"].size for i in train + train_bg)
  print(f"training: {len(train)} fold-1 soundscapes ({sum(i['seconds'] for i in train) / 60:.0f}"
        f" min, {sum(len(i['truth']) for i in train)} events) + {len(train_bg)} backgrounds "
        f"({sum(i['seconds'] for i in train_bg) / 60:.0f} min): {frames_train} frames")
  print(f"tuning: {len(tune)} fold-1 soundscapes ({sum(i['seconds'] for i in tune) / 60:.0f} "
        f"min, {sum(len(i['truth']) for i in tune)} events) + "
        f"{sum(i['seconds'] for i in tune_bg) / 60:.0f} min background")
  evaluation = (main_items, per_level, eval_bg)
  results = {}
  groups = clip_groups(TRAIN_FOLD, CV_GROUPS)
  for name in args.heads:
    with_rms = {"lr_rms": True, "lr_base": "base", "cal": "cal"}.get(name, False)
    x, y = stacked(train + train_bg, labels, with_rms)
    print(f"--- head {name}: x {x.shape}, positive frames per label "
          f"{dict(zip(labels, y.sum(axis=0).astype(int)))}")
    best = None
    for setting, make in HEADS[name]:
      fit_started = time.perf_counter()
      head = make().fit(x, y)
      fit_seconds = time.perf_counter() - fit_started
      train_map = frame_map(head, train + train_bg, labels)
      same_map = frame_map(head, tune + tune_bg, labels)
      line = (f"  {setting}: fit {fit_seconds:.0f} s; frame mAP train {train_map:.3f}, fold-1 "
              f"tuning (same clips) {same_map:.3f}")
      chosen_by = same_map
      if args.tuning == "cv":
        cv_started = time.perf_counter()
        cv = CrossValidated(make, train, train_bg, labels, groups, CV_GROUPS, with_rms)
        chosen_by = frame_map(cv, tune + tune_bg, labels)
        line += (f", fold-1 tuning out-of-clip ({CV_GROUPS}-fold by source) {chosen_by:.3f} "
                 f"({time.perf_counter() - cv_started:.0f} s)")
      print(line)
      if best is None or chosen_by > best[0]:
        best = (chosen_by, setting, head, cv if args.tuning == "cv" else head)
    _, setting, head, tuner = best
    print(f"  chosen {setting}; event rules on fold-1 tuning soundscapes "
          f"({'out-of-clip scores' if args.tuning == 'cv' else 'the final head'}):")
    rules_started = time.perf_counter()
    own, shared, tune_result = tune_rules(tune, tune_bg, tuner.scores, labels)
    print(f"  rule grid: {time.perf_counter() - rules_started:.0f} s")
    results[name] = (head, own, shared, tune_result)
  print("baseline (esc10 label set) on fold-1 tuning soundscapes: ", end="")
  base_pairs = pairs_of(tune, lambda item: item["base"], labels, base_rules)
  r = S.evaluate([p[:3] for p in base_pairs], labels)
  print(f"event F1 {r['event_f1']:.3f}, segment F1 {r['segment_f1']:.3f}")
  full_report("baseline: esc10 label set (YAMNet classes), its own rules",
              lambda item: item["base"], base_rules, evaluation, labels)
  for name, (head, own, shared, _) in results.items():
    full_report(f"head {name}, per-label rules", head.scores, own, evaluation, labels)
    pairs = pairs_of(main_items, head.scores, labels, shared)
    report_line(f"head {name}, shared rule", pairs, labels)
    false = [len(S.events_from_scores(scored(item, head.scores(item)), labels, shared))
             for item in eval_bg]
    print(f"    shared rule {describe(shared)}: false events {false} in "
          f"{EVAL_BG_MINUTES:g} min of {S.BACKGROUNDS}")
  print(f"end: load average {os.getloadavg()}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
  main()
