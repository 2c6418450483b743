"""Live audio as one stream: the streaming resampler equals batch's at any cut, and a
source that reconnects restarts the stream (counted, shown in the status)."""

import numpy as np
import pytest
import soundfile

import support_runtime as sr
from soundscope.runtime import session as session_lib
from soundscope.runtime import sinks as sinks_lib
from soundscope.transforms import audio
from soundscope.transforms import resample as polyphase


@pytest.mark.parametrize("rate", [44100, 22050, 48000, 11025, 8000, 16000])
def test_the_stream_resampler_equals_batch_however_the_input_is_cut(tmp_path, rate):
  rng = np.random.default_rng(rate)
  frames = np.rint(rng.uniform(-0.5, 0.5, int(rate * 12.3)) * 32768).astype(np.int16)
  path = tmp_path / "x.wav"
  soundfile.write(str(path), frames, rate, subtype="PCM_16")
  batch = np.concatenate(list(audio.stream_mono(str(path))))
  resampler, pieces, at = audio.StreamResampler(rate), [], 0
  while at < len(frames):
    cut = int(rng.integers(1, 3 * rate))
    pieces.append(resampler.add(frames[at:at + cut] / 32768.0))
    at = min(at + cut, len(frames))
    # It holds back less than its margin and one grid unit (44.1 kHz: 2 x 441 samples).
    behind = audio._margin(rate, 16000) + audio._grid(rate, 16000)[0]
    assert resampler.samples_out >= polyphase.output_length(max(0, at - behind), rate, 16000)
  pieces.append(resampler.finish())
  live = np.concatenate(pieces)
  assert live.shape == batch.shape
  # Bit for bit (passed through at 16 kHz): every piece starts where batch's matrix
  # products start, so each output comes from the same product (resample.aligned_start).
  np.testing.assert_array_equal(live, batch)


class Reconnecting(sr.BlockSource):
  """A clip whose stream reconnects once, before frame `at`: its `reconnections` count
  grows there and it has a status(), as runtime/ffmpeg.StreamSource."""
  live = False
  name = "test stream"

  def __init__(self, samples, rate, block, at):
    super().__init__(samples, rate, block)
    self.at, self.reconnections = at, 0

  def read(self, timeout):
    if self._at >= self.at:
      self.reconnections = 1
    return super().read(timeout)

  def status(self):
    return {"input": self.name, "state": "playing", "reconnections": self.reconnections,
            "last_error": "no audio for 5 s"}


def test_a_reconnection_restarts_the_stream_and_the_status_and_page_show_it(tmp_path):
  import argparse
  from soundscope.cli import live as live_cli
  samples, rate = sr.read_clip(sr.RAIN_CLIP)
  args = live_cli.add_arguments(argparse.ArgumentParser()).parse_args(
      ["--min-time", "1", "--max-time", "1"])
  recorder = sr.Recorder()
  source = Reconnecting(samples, rate, 4410, at=int(2.5 * rate))
  live = session_lib.LiveSession(args, sr.BandEnergyClassifier(), sinks_lib.SinkSet([recorder]),
                                 source=source)
  assert live.run() == 4
  # 1 s windows from 0 s and 1 s (each piece ~10 ms behind: the resampler's margin);
  # the 0.5 s buffered when the stream reconnected is dropped; the new stream starts at
  # 2.5 s with no lag.
  starts = [w.start_seconds for w in recorder.events]
  assert starts[:2] == [0.0, pytest.approx(0.99, abs=0.011)]
  assert starts[2:] == [2.5, pytest.approx(3.49, abs=0.011)]
  assert all(w.model_windows >= 1 and w.predictions for w in recorder.events)
  status = live.status()
  assert status["stream_restarts"] == 1 and status["clock_corrections"] == 0
  assert status["input"] == source.status() and status["dropped_seconds"] == 0.5
  # The page's status panel says the input's state and the clock corrections.
  import html
  from soundscope.runtime import config as config_lib
  from soundscope.runtime import web
  from soundscope.runtime.web import hub as hub_lib
  app = web.create_app(hub_lib.EventHub(), config_lib.ConfigStore(str(tmp_path / "dh.json")),
                       None, live.status)
  page = html.unescape(app.test_client().get("/").get_data(as_text=True))
  assert ">playing, 1 reconnections (last: no audio for 5 s)</dd>" in page
  assert '<dd id="st-clock">0</dd>' in page


@pytest.fixture(scope="module")
def yamnet(tmp_path_factory):
  from soundscope.models.store import registry
  return registry.load_classifier("yamnet", sr.import_yamnet(tmp_path_factory.mktemp("models")))


def test_model_windows_of_a_cut_stream_are_the_whole_clips(yamnet):
  """Pieces of any length give the windows of scoring the whole clip, each scored once,
  as soon as the stream holds it; at the end a remainder shorter than a window too."""
  from soundscope.models import scoring
  from soundscope.runtime import listening
  hop, span = yamnet.framing
  samples, rate = sr.read_clip(sr.DOG_CLIP)
  wave = audio.resample(samples / 32768.0, rate, 16000).astype(np.float32)
  rng = np.random.default_rng(3)
  # Ends leaving a remainder shorter than a span at the end, and one a whole span long.
  for length in (len(wave), 10 * hop + span - 1, 10 * hop + span + hop // 2):
    clip = np.tile(wave, 2)[:length]
    models, got, at = listening.ModelWindows(yamnet), (None, None), 0
    while at < length:
      cut = int(rng.integers(1, 3 * 16000))
      windows, levels = models.add(clip[at:at + cut])
      at = min(at + cut, length)
      if windows is not None:     # Whole windows only, as soon as the stream holds them.
        assert windows.ends[-1] <= at / 16000.0 < windows.ends[-1] + hop / 16000.0
      got = listening.joined(got, (windows, levels))
    got, levels = listening.joined(got, models.finish())
    expected = scoring.score_waveform(yamnet, clip, per_window=True)
    np.testing.assert_array_equal(got.scores, expected.windows.scores)
    np.testing.assert_allclose(got.starts, expected.windows.starts, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.ends, expected.windows.ends, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(levels, expected.levels.rms_dbfs)
