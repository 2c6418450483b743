"""Event bounds from the audio's level (transforms/level_bounds.py) and the 20 ms level
track (transforms/levels.py frame_levels, FrameLevels)."""

import dataclasses

import numpy as np
import pytest

from soundscope.configs import events as E
from soundscope.models import file_events, scoring
from soundscope.transforms import events as V
from soundscope.transforms import level_bounds as B
from soundscope.transforms import levels as L

RATE = 16000


def noise(rng, seconds, dbfs):
  """White noise of `seconds` at an RMS of `dbfs`."""
  samples = rng.standard_normal(int(round(seconds * RATE)))
  return samples / np.sqrt(np.mean(samples ** 2)) * 10.0 ** (dbfs / 20.0)


def scene(parts, seed=0):
  """float64 16 kHz samples: (seconds, RMS dBFS) parts one after another."""
  rng = np.random.default_rng(seed)
  return np.concatenate([noise(rng, seconds, dbfs) for seconds, dbfs in parts])


def event(start, end, label="dog"):
  return V.Event(label, start, end, 0.9, 0.7, 3)


def test_frame_levels_are_the_rms_of_each_whole_20_ms_frame():
  assert B.FRAME_SAMPLES == 320
  t = np.arange(3 * 320 + 96) / RATE
  sine = np.sin(2 * np.pi * 1000.0 * t)      # 1 kHz: 16 samples a period, 20 in a frame.
  samples = np.concatenate([sine, np.zeros(320)])
  levels = L.frame_levels(samples, 320)
  assert levels.shape == (4,)                # The rest of the last frame is left out.
  np.testing.assert_allclose(levels[:3], -3.0103, atol=1e-3)
  assert levels[3] == pytest.approx(-3.0103 + 10 * np.log10(96 / 320), abs=1e-3)
  assert L.frame_levels(np.zeros(700), 320).tolist() == [-120.0, -120.0]


def test_frame_levels_of_pieces_equal_those_of_the_whole_stream():
  rng = np.random.default_rng(3)
  samples = rng.uniform(-1, 1, 50_000).astype(np.float32)
  whole = L.frame_levels(samples, 320)
  for _ in range(20):
    cuts = np.sort(rng.integers(0, samples.size, int(rng.integers(1, 30))))
    track = L.FrameLevels(320)
    pieces = [track.add(piece) for piece in np.split(samples, cuts)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert track.frames == whole.size


def test_an_event_moves_to_its_loud_audio_within_the_margin():
  # -60 dBFS background, a -20 dBFS sound from 8.3 to 10.1 s.
  track = B.LevelTrack.of(scene([(8.3, -60), (1.8, -20), (9.9, -60)]))
  got = B.refined(event(8.54, 9.86), track)
  assert (got.start_seconds, got.end_seconds) == pytest.approx((8.3, 10.1), abs=1e-9)
  assert dataclasses.replace(got, start_seconds=8.54, end_seconds=9.86) == event(8.54, 9.86)
  # Found inside a longer sound (5.5-9.0 s): out by the margin at most (to the frame).
  long = B.LevelTrack.of(scene([(5.5, -60), (3.5, -20), (4.0, -60)]))
  got = B.refined(event(7.0, 8.0), long)
  assert got.start_seconds == pytest.approx(7.0 - E.LEVEL_MARGIN_SECONDS, abs=B.FRAME_SECONDS)
  assert got.end_seconds == pytest.approx(8.0 + E.LEVEL_MARGIN_SECONDS, abs=B.FRAME_SECONDS)
  # With no background around it (the sound goes on all through the floor's frames),
  # nothing stands out over the floor: the bounds stay as found.
  assert B.refined(event(7.0, 8.0), B.LevelTrack.of(scene([(16.0, -20)]))) == event(7.0, 8.0)
  # Found too wide: the bounds move in as far as the sound is.
  got = B.refined(event(7.0, 12.5), track)
  assert (got.start_seconds, got.end_seconds) == pytest.approx((8.3, 10.1), abs=1e-9)


def test_a_frame_counts_within_20_db_of_the_peak_and_10_db_over_the_floor():
  # A -10 dBFS sound with a -35 dBFS tail (25 dB under it): the tail is not the event.
  track = B.LevelTrack.of(scene([(5.0, -70), (1.0, -10), (1.0, -35), (5.0, -70)]))
  got = B.refined(event(5.2, 6.6), track)
  assert (got.start_seconds, got.end_seconds) == pytest.approx((5.0, 6.0), abs=1e-9)
  # A sound 5 dB over the background (under floor + 10 dB): the bounds stay as found.
  faint = B.LevelTrack.of(scene([(5.0, -60), (1.0, -55), (5.0, -60)]))
  assert B.refined(event(5.2, 5.8), faint) == event(5.2, 5.8)
  # Its own audio quiet, a loud sound within the margin before it: that is not the event.
  beside = B.LevelTrack.of(scene([(5.0, -60), (0.5, -20), (6.5, -60)]))
  assert B.refined(event(5.9, 7.0), beside) == event(5.9, 7.0)
  # No frame under the event (past the track's end): as found.
  assert B.refined(event(30.0, 31.0), faint) == event(30.0, 31.0)


def test_only_labels_with_level_bounds_are_refined():
  track = B.LevelTrack.of(scene([(8.3, -60), (1.8, -20), (9.9, -60)]))
  found = [event(8.54, 9.86, "dog"), event(8.54, 9.86, "rain")]
  level = V.EventRules(bounds=E.BOUNDS_LEVEL)
  got = B.refine(found, ["dog", "rain"], (level, V.EventRules(bounds=E.BOUNDS_CENTRE)), track)
  assert [(e.label, round(e.start_seconds, 9), round(e.end_seconds, 9)) for e in got] == [
      ("dog", 8.3, 10.1), ("rain", 8.54, 9.86)]
  assert B.needs_levels(level) and not B.needs_levels((V.EventRules(),) * 2)


def test_a_track_fed_in_pieces_and_let_go_refines_as_the_whole_one():
  rng = np.random.default_rng(5)
  samples = scene([(3.0, -60), (0.7, -25), (2.0, -60), (2.2, -15), (4.0, -55)], seed=2)
  whole = B.LevelTrack.of(samples, first_seconds=12.0)
  found = [event(15.0, 15.5), event(17.9, 19.5)]
  track = B.LevelTrack(first_seconds=12.0)
  for piece in np.array_split(samples, 37):
    track.add(piece)
  track.forget_before(15.0 - E.LEVEL_FLOOR_SECONDS - E.LEVEL_MARGIN_SECONDS)
  assert track.first_frame > 0
  assert [B.refined(e, track) for e in found] == [B.refined(e, whole) for e in found]
  got = B.refined(found[1], whole)
  assert (got.start_seconds, got.end_seconds) == pytest.approx((17.7, 19.9), abs=1e-9)
  del rng


def test_scores_carry_the_level_track_with_their_windows_and_events_need_it():
  from soundscope.models import classifier

  class Flat(classifier.Classifier):
    """One class scoring 0.9 in every 1 s window, every 0.5 s (a Framing)."""
    name, labels = "flat", ["sound"]
    framing = classifier.Framing(RATE // 2, RATE)

    def window_scores(self, waveform_16k):
      count = max(1, (len(waveform_16k) - RATE) // (RATE // 2) + 1)
      starts = np.arange(count) * 0.5
      return classifier.WindowScores(starts, starts + 1.0,
                                     np.full((count, 1), 0.9, np.float32))

  samples = scene([(2.0, -60), (1.0, -20), (2.0, -60)]).astype(np.float32)
  scores = scoring.score_waveform(Flat(), samples, per_window=True)
  np.testing.assert_array_equal(scores.frame_levels, L.frame_levels(samples, 320))
  assert scoring.score_waveform(Flat(), samples).frame_levels is None
  level = V.EventRules(0.5, 0.5, bounds=E.BOUNDS_LEVEL)
  (found,) = file_events.file_events(Flat(), scores, None, level)
  assert (found.start_seconds, found.end_seconds) == pytest.approx((2.0, 3.0), abs=1e-9)
  with pytest.raises(V.EventInputError, match="level track"):
    file_events.file_events(Flat(), scores._replace(frame_levels=None), None, level)
