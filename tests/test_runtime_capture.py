"""Live capture through real PortAudio (ALSA's file plugin as the microphone) and YAMNet."""

import datetime
import re
import signal
import subprocess

import numpy as np
import pytest
import soundfile

import support_runtime as sr
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import capture as capture_lib
from soundscope.runtime import devices as devices_lib
from soundscope.runtime import windows
from soundscope.transforms import audio

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)  (.+)$")


@pytest.fixture(scope="module")
def yamnet_dir(tmp_path_factory):
  return sr.import_yamnet(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def dog_and_rain():
  dog, dog_rate = sr.read_clip(sr.DOG_CLIP)
  rain, rain_rate = sr.read_clip(sr.RAIN_CLIP)
  assert dog_rate == rain_rate == sr.CLIP_RATE and len(dog) == len(rain) == 5 * sr.CLIP_RATE
  return dog, rain


def expected_16k(samples, rate):
  """What int16 samples become: the shared transforms' resampling of all of them (float32)."""
  wave = audio.resample(audio.to_mono(samples.astype(np.float64) / 32768.0), rate, 16000)
  return wave.astype(np.float32)


def test_capture_dog_then_rain_prints_saves_and_matches_batch(tmp_path, yamnet_dir, dog_and_rain):
  dog, rain = dog_and_rain
  home = sr.file_microphone(tmp_path / "home", np.concatenate([dog, rain]))
  records = tmp_path / "records"
  records.mkdir()
  result = subprocess.run(
      sr.soundscope_command("capture", "--duration", 10, "--min-time", 5, "--max-time", 7,
                            "--device", "soundscope_file_mic", "--save-path", records,
                            "--model-dir", yamnet_dir, "--top-k", 5),
      env=sr.child_env(home), capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 2, result.stdout
  parsed = [LINE.match(line) for line in lines]
  assert all(parsed), lines
  dog_labels, rain_labels = (m.group(2) for m in parsed)
  assert re.search(r"\b(Dog|Bark|Bow-wow)\b", dog_labels), dog_labels
  assert re.search(r"\bRain\b", rain_labels), rain_labels
  assert "2 windows classified, 10.0 s captured, 0 overruns" in result.stderr
  assert "ALSA lib" not in result.stderr    # PortAudio's probing noise stays hidden.

  # The two windows are one 16 kHz stream: the first piece ends where the resampler's
  # filter still needs the next window (4.99 s, a whole number of 441-sample units
  # before 5 s at 44.1 kHz), the second starts there.
  saved = sorted(records.glob("record_*.wav"))
  assert [p.name for p in saved] == sorted(p.name for p in saved) and len(saved) == 2
  stamps = [datetime.datetime.strptime(p.name, "record_%Y%m%dT%H%M%S.%fZ.wav") for p in saved]
  assert (stamps[1] - stamps[0]).total_seconds() == pytest.approx(4.99, abs=0.002)
  ends = [datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ") for m in parsed]
  assert (ends[0] - stamps[0]).total_seconds() == pytest.approx(4.99, abs=0.002)

  from soundscope.models import scoring
  from soundscope.models.store import registry
  batch = registry.load_classifier("yamnet", yamnet_dir)
  whole = expected_16k(np.concatenate([dog, rain]), sr.CLIP_RATE)
  model_windows = scoring.score_waveform(batch, whole, per_window=True).windows
  done = 0
  for path, printed in zip(saved, (dog_labels, rain_labels)):
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    content, _ = soundfile.read(str(path), dtype="int16")
    # The saved piece is the whole capture's resampled samples, as 16-bit.
    np.testing.assert_array_equal(content, windows.quantize_int16(whole[done:done + len(content)]))
    done += len(content)
    # Printed: the model windows this piece completed (scored once the stream holds
    # them), pooled as classify pools a clip, from batch's window scores.
    mine = (model_windows.ends <= done / 16000.0 + 1e-9) & (
        model_windows.ends > (done - len(content)) / 16000.0 + 1e-9)
    pooled = classifier_lib.aggregate(model_windows.scores[mine], "mean")
    assert classifier_lib.format_predictions(classifier_lib.top_k(pooled, batch.labels, 5)) \
        == printed
  assert done == len(whole) - 160       # The last 10 ms reach the events only.


def test_capture_ends_quietly_when_its_reader_closes_the_pipe(tmp_path, yamnet_dir,
                                                              dog_and_rain):
  dog, rain = dog_and_rain
  home = sr.file_microphone(tmp_path / "home", np.concatenate([dog, rain, dog]))
  capture = subprocess.Popen(
      sr.soundscope_command("capture", "--duration", 15, "--device", "soundscope_file_mic",
                            "--model-dir", yamnet_dir),
      env=sr.child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  capture.stdout.close()      # As `| head -0` would: nobody reads the predictions.
  _, err = capture.communicate(timeout=120)
  assert capture.returncode == 0, err
  assert "Traceback" not in err and "BrokenPipe" not in err
  assert "1 windows classified" in err      # It stopped at the first line it could not print.
  assert "was closed" not in err      # Quietly, as docs/runtime.md says.


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_a_running_capture_cleanly(tmp_path, yamnet_dir, dog_and_rain, stop_signal):
  home = sr.file_microphone(tmp_path / "home", dog_and_rain[0])
  process = subprocess.Popen(
      sr.soundscope_command("capture", "--min-time", 1, "--max-time", 2,
                            "--model-dir", yamnet_dir),
      env=sr.child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  out, err = sr.LineReader(process.stdout), sr.LineReader(process.stderr)
  try:
    # It would run without end: the file plugin never runs dry.
    first = sr.wait_for(lambda: out.lines, timeout=60, what="the first window")[0]
    assert LINE.match(first.rstrip("\n")), first
    process.send_signal(stop_signal)
    code = process.wait(timeout=30)
  finally:
    if process.poll() is None:
      process.kill()
  err = err.text()
  assert code == 0, err
  assert re.search(r"\d+ windows classified", err), err
  assert "Traceback" not in err


def test_list_devices_and_device_errors(tmp_path, yamnet_dir, dog_and_rain):
  home = sr.file_microphone(tmp_path / "home", dog_and_rain[0][:16000])
  listing = subprocess.run(sr.soundscope_command("capture", "--list-devices"),
                           env=sr.child_env(home), capture_output=True, text=True, timeout=60)
  assert listing.returncode == 0, listing.stderr
  assert re.search(r"\[\d+\] 'soundscope_file_mic': \d+ in", listing.stdout), listing.stdout

  wrong = subprocess.run(
      sr.soundscope_command("capture", "--device", "no-such-microphone", "--duration", 1,
                            "--model-dir", yamnet_dir),
      env=sr.child_env(home), capture_output=True, text=True, timeout=60)
  assert wrong.returncode == 1
  assert "no input device named like 'no-such-microphone'" in wrong.stderr
  assert "soundscope_file_mic" in wrong.stderr      # The error lists what exists.


def test_no_input_device_is_one_clear_error(tmp_path, yamnet_dir):
  home = tmp_path / "empty-home"
  home.mkdir()
  listing = subprocess.run(sr.soundscope_command("capture", "--list-devices"),
                           env=sr.child_env(home), capture_output=True, text=True, timeout=60)
  if re.search(r": [1-9]\d* in,", listing.stdout):
    pytest.skip("this machine has a real audio input device")
  result = subprocess.run(
      sr.soundscope_command("capture", "--duration", 1, "--model-dir", yamnet_dir),
      env=sr.child_env(home), capture_output=True, text=True, timeout=60)
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines() if "error" in line]
  assert len(errors) == 1 and "no audio input device (microphone) found" in errors[0], \
      result.stderr
  assert "devices found" in result.stderr and "Traceback" not in result.stderr


def test_select_device_by_index_name_and_default():
  devices = [devices_lib.DeviceInfo(0, "HDMI out", 0, 2, 48000.0, "ALSA"),
             devices_lib.DeviceInfo(1, "USB Microphone", 1, 0, 48000.0, "ALSA"),
             devices_lib.DeviceInfo(2, "default", 32, 32, 44100.0, "ALSA")]
  assert devices_lib.select_device(devices, None, default_index=2).index == 2
  assert devices_lib.select_device(devices, None, default_index=None).index == 1
  assert devices_lib.select_device(devices, "1").index == 1
  assert devices_lib.select_device(devices, "usb").index == 1
  assert devices_lib.select_device(devices, "default").index == 2
  with pytest.raises(devices_lib.NoInputDeviceError, match="not an input device"):
    devices_lib.select_device(devices, 0)
  with pytest.raises(devices_lib.NoInputDeviceError, match="no audio input device"):
    devices_lib.select_device(devices[:1], None)


def test_a_busy_classifier_loses_audio_only_past_max_time_and_counts_it(dog_and_rain):
  dog, rain = dog_and_rain
  fed = np.concatenate([dog, rain])
  rate = sr.CLIP_RATE
  capture = capture_lib.Capture(sr.BlockSource(fed, rate, rate // 10), min_seconds=1,
                                max_seconds=2).start()
  first = capture.next_window(timeout=10)
  # "Classifying" the first window while the source delivers the other 9 s.
  sr.wait_for(lambda: capture.stats.captured_seconds >= 10 - 1e-9, what="the whole clip")
  second = capture.next_window(timeout=10)
  assert capture.next_window(timeout=10) is None
  assert first.samples.shape[0] == rate and first.dropped_frames == 0
  assert second.samples.shape[0] == 2 * rate and second.dropped_frames == 7 * rate
  np.testing.assert_array_equal(first.samples[:, 0], fed[:rate])
  np.testing.assert_array_equal(second.samples[:, 0], fed[-2 * rate:])   # The newest audio.
  assert capture.stats.overruns > 0 and capture.stats.dropped_seconds == pytest.approx(7.0)
  assert second.first_frame == 8 * rate
  assert (second.start_utc - first.start_utc).total_seconds() == pytest.approx(8.0)
  assert (first.end_utc - first.start_utc).total_seconds() == pytest.approx(1.0)


def test_windows_are_gap_free_when_the_classifier_keeps_up(dog_and_rain):
  fed = dog_and_rain[1]
  rate = sr.CLIP_RATE
  # Ten times faster than a microphone: the consumer has 125 ms to come back.
  capture = capture_lib.Capture(sr.BlockSource(fed, rate, 4410, pace=10), min_seconds=1.25,
                                max_seconds=3).start()
  taken = []
  while (window := capture.next_window(timeout=10)) is not None:
    taken.append(window)
  joined = np.concatenate([w.samples[:, 0] for w in taken])
  np.testing.assert_array_equal(joined, fed)
  assert all(w.dropped_frames == 0 for w in taken)
  for before, after in zip(taken, taken[1:]):
    assert after.first_frame == before.first_frame + before.samples.shape[0]
    assert after.start_utc == before.end_utc
  with pytest.raises(ValueError):
    windows.WindowBuffer(rate, 1, 5, 4, datetime.datetime.now(datetime.timezone.utc))


class LosesBlocks(sr.BlockSource):
  """A source whose queue overflowed: some blocks never reach the capture thread."""

  def __init__(self, samples, rate, block, lost):
    super().__init__(samples, rate, block, pace=10)
    self.lost = set(lost)

  def read(self, timeout):
    while (item := super().read(timeout)) is not None and item[2] // self.block in self.lost:
      self.overflows += 1
    return item


def test_blocks_lost_by_the_source_move_the_clock_and_never_join_a_window(dog_and_rain):
  fed = dog_and_rain[1]
  rate = sr.CLIP_RATE
  block = rate // 10
  capture = capture_lib.Capture(LosesBlocks(fed, rate, block, lost={0, 12, 13}),
                                min_seconds=1.0, max_seconds=3).start()
  taken = []
  while (window := capture.next_window(timeout=10)) is not None:
    taken.append(window)
  for window in taken:   # Each window is the audio at its own place in the stream ...
    np.testing.assert_array_equal(window.samples[:, 0],
                                  fed[window.first_frame:window.first_frame + len(window.samples)])
    offset = (window.start_utc - taken[0].start_utc).total_seconds()
    assert offset == pytest.approx((window.first_frame - taken[0].first_frame) / rate)
  # ... and every frame is either in a window or counted as dropped: the three lost
  # blocks, plus what was buffered before the second gap (block 11, unless the
  # consumer had already taken it into the window before).
  assert taken[0].first_frame == block and taken[0].dropped_frames == block
  dropped = sum(w.dropped_frames for w in taken)
  assert dropped in (3 * block, 4 * block)
  # (A remainder under MIN_FINAL_WINDOW_SECONDS at the end is not classified, by design.)
  tail = len(fed) - (taken[-1].first_frame + len(taken[-1].samples))
  assert 0 <= tail < capture_lib.S.MIN_FINAL_WINDOW_SECONDS * rate
  assert sum(len(w.samples) for w in taken) + dropped + tail == len(fed)
  assert capture.stats.dropped_seconds == pytest.approx(dropped / rate)
  assert capture.source.overflows == 3
